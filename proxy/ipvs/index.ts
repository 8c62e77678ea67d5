// kube-proxy's ipvs mode (the proxier half): the public surface, listed by hand.

export { type IpvsOutputs, ipvsOutputs } from './outputs.js';
export { programIpvs } from './program.js';
export {
  applyIpvsNetfilter,
  type IpvsNodeRender,
  type IpvsTimeouts,
  localAddressesOf,
  renderIpvsNode,
} from './render.js';
export {
  IPVS_FILTER_CHAINS,
  IPVS_NAT_CHAINS,
  type IpvsJump,
  type IpvsRules,
  type IpvsSysctl,
  ipvsJumpInsertOrder,
  ipvsJumpsInFinalOrder,
  ipvsSetupRestore,
  ipvsSysctls,
  renderIpsetRestore,
  renderIpvsRules,
} from './rules.js';
export { createLine, IPVS_SETS, type IpvsSetInfo, setInfo, setNameIn } from './sets.js';
export {
  computeIpvsNode,
  DUMMY_DEVICE,
  type IpvsNodeState,
  type IpvsRenderOptions,
  type IpvsSetMember,
  type IpvsVirtualServer,
} from './state.js';
export { type IpvsSyncOp, ipvsSyncOps, serviceKey } from './sync-ops.js';
