// The CNI entry point (`kpath cni`): spec 1.1.0 commands against kpath's emulated state. Public surface, listed by hand.
export { CNI_VERSION, CniCode, type CniError, CniFailure, SUPPORTED_VERSIONS } from './errors.js';
export { allocate, canonicalRange, type IpamRange, type IpamStore, release } from './host-local.js';
export { type CniInvocation, type CniOutcome, type CniState, emptyCniState, invokeCni } from './invoke.js';
export { applyToNat, natSave } from './iptables-state.js';
export { runPortmap } from './portmap-plugin.js';
