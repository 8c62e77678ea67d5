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
// The CNI-spec entry point (`kpath cni`) is cni/spec/index.ts, imported by itself: kpath up does not load it.
