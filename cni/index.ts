// Pod networking in the emulated nodes. Public surface, listed by hand.
export { addBridgePods, addHostGwRoutes, BRIDGE, vethName } from './bridge/index.js';
export { CALICO_GATEWAY, CALICO_VXLAN, caliName } from './calico/index.js';
export { FLANNEL_PORT, FLANNEL_VNI, FLANNEL_VXLAN, flannelRestore, vtepMac } from './flannel/index.js';
export {
  buildHostNetwork,
  type HostNetwork,
  hostVethOf,
  ingressInterface,
  podMtu,
} from './host-network.js';
export { macOf, UNDERLAY, UPLINK } from './node-base.js';
export { type CniOutcome, type CniState, emptyCniState, invokeCni, natSave } from './spec/index.js';
