// flannel: the CNI wrapper (bridge + host-local), flanneld's vxlan backend and its iptables rules. Public surface, listed by hand.
export { flannelRestore } from './iptables.js';
export {
  addFlannelVxlan,
  FLANNEL_OVERHEAD,
  FLANNEL_PORT,
  FLANNEL_VNI,
  FLANNEL_VXLAN,
  vtepMac,
} from './vxlan.js';
