// Pod networking in the emulated nodes. Public surface, listed by hand.
export {
  BRIDGE,
  buildHostNetwork,
  type HostNetwork,
  ingressInterface,
  UPLINK,
  vethName,
} from './host-network.js';
