// The bridge CNI plugin (cni0, veths, host-local addresses) and host-gw routes. Public surface, listed by hand.
export { addBridgePods, BRIDGE, vethName } from './bridge.js';
export { addHostGwRoutes } from './host-gw.js';
