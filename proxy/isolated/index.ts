// A cluster run in-process on loopback blocks of its own (kpath demo, kpath lab check), listed by hand.
export {
  PORT_SHIFT,
  PRIVILEGED_BELOW,
  type Relocation,
  relocateManifests,
  shiftedPort,
} from './relocate.js';
export {
  type IsolatedOptions,
  type IsolatedRun,
  mayBindPrivileged,
  type Slot,
  startIsolated,
  withDnsAddon,
} from './start.js';
