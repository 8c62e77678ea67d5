// Devices of the emulated namespaces: link kinds, MACs, the bridge FDB, neighbours, frames, MTU. Public surface, listed by hand.
export { BRIDGE_AGEING_MS, BridgeFdb, type FdbEntry } from './fdb.js';
export {
  type ArpFrame,
  type ArpWire,
  ETH_P_IP,
  ETH_P_IPV6,
  ethertypeOf,
  type Fragment,
  type Frame,
  VXLAN_OVERHEAD,
} from './frame.js';
export {
  type Link,
  type LinkSpec,
  type TransmitStep,
  transmit,
  type VxlanFdbEntry,
  vxlanSourcePort,
} from './link.js';
export { BROADCAST_MAC, CALICO_HOST_MAC, deriveMac, isBroadcastMac, type Mac, macBytes } from './mac.js';
export { checkMtu, fragmentsOf, IPV4_HEADER, type MtuDecision } from './mtu.js';
export { type NeighEntry, type NeighState, NeighTable, REACHABLE_MS } from './neigh.js';
