// Calico's routed pod network: cali veths with proxy ARP, per-pod host routes, BGP or VXLAN. Public surface, listed by hand.
export {
  addCalicoBgpRoutes,
  addCalicoPods,
  addCalicoVxlan,
  CALICO_GATEWAY,
  CALICO_VNI,
  CALICO_VXLAN,
  CALICO_VXLAN_PORT,
  caliName,
} from './calico.js';
export { ALL_POOLS_SET, addFelixNat, felixNatRestore, MASQ_POOLS_SET } from './felix.js';
