// The kpath up runtime's public surface, listed by hand.
export { type AdminHandlers, AdminServers, type Endpoint } from './admin.js';
export {
  type ConntrackJson,
  conntrackJson,
  formatConntrackLine,
  type LiveConnection,
  LiveConntrack,
  type Tuple,
} from './conntrack.js';
export { allEndpoints, type EligibleEndpoint } from './eligibility.js';
export type { ForwardLimits, ListenerTarget } from './forward-context.js';
export { desiredListeners, type ListenerInfo } from './listeners.js';
export { createLogger } from './log.js';
export { RuntimeMetrics } from './metrics.js';
export { chooseMode, createMode, MODE_NAMES, type ModeChoice } from './modes/select.js';
export type {
  AffinityEntry,
  Decision,
  EntryKind,
  FlowRequest,
  HostPort,
  ModeEndpoints,
  ModeName,
  ProxyMode,
} from './modes/types.js';
export { USERSPACE_DIAL_TIMEOUTS_MS, UserspaceMode } from './modes/userspace.js';
export type { ContainerTimings } from './pods/container.js';
export type { PodStatus } from './pods/manager.js';
export { POLICY_DENIALS_KEPT, type PolicyDenial, PolicyGate } from './policy-gate.js';
export { RUNTIME_DEFAULTS, type Runtime, type RuntimeOptions, startRuntime } from './runtime.js';
