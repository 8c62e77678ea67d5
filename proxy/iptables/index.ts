// kube-proxy's iptables mode, rendering part: the public surface, listed by hand.

export { applyFullSync, applyPartialSync, setupRestore } from './apply.js';
export {
  formatMark,
  type LocalDetector,
  type NodeContext,
  nodeContext,
  type RenderOptions,
} from './context.js';
export {
  CANARY_CHAIN,
  canaryChains,
  ensuredChains,
  type JumpRule,
  jumpInsertOrder,
  jumpsInFinalOrder,
  setupCommands,
  type Table,
} from './jumps.js';
export {
  base32,
  chainHash,
  clearChainNameCache,
  endpointChainName,
  isServiceChainName,
  probability,
  type ServiceChainPrefix,
  serviceChainName,
} from './names.js';
export {
  changedServicesOf,
  type NodeRender,
  type PartialSyncOptions,
  type PartialSyncRender,
  renderNode,
  renderPartialSync,
  type SyncState,
} from './render.js';
export { renderServicePort, type ServicePortRules } from './service-rules.js';
