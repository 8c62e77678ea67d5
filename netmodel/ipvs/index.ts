// The emulated kernel IPVS of a node. Public surface, listed by hand.

export type { IpvsChoice, IpvsChoices } from './choices.js';
export { ipvsChoices } from './choices.js';
export type { IpvsConnState, IpvsConnView } from './conn.js';
export { IpvsConn, IpvsConnTable } from './conn.js';
export type { ConnHashKeys } from './conn-hash.js';
export { connBucket, jhash, jhash3 } from './conn-hash.js';
export type { IpvsStats } from './dest.js';
export { IpvsDest } from './dest.js';
export { addrFold, hash32, hsiphash, hsiphash4, keyOf32 } from './hash.js';
export type { IpvsHookName, IpvsHookOptions, IpvsHookResult } from './hook.js';
export { ipvsHook, ipvsTimers } from './hook.js';
export type {
  IpvsExplanation,
  IpvsHook,
  IpvsInOptions,
  IpvsInResult,
  IpvsOutResult,
  IpvsPathChoice,
  PersistenceExplanation,
} from './process.js';
export { ipvsIn, ipvsOut } from './process.js';
export type { IpvsConnJson, IpvsDestJson, IpvsJson, IpvsServiceJson, ListOptions } from './render.js';
export {
  compareDests,
  compareServices,
  IPVS_VERSION,
  ipvsJson,
  renderIpvsadmConnections,
  renderIpvsadmList,
  renderIpvsadmSave,
  renderIpvsadmTimeouts,
} from './render.js';
export { parseIpvsadmSave } from './save-parse.js';
export * from './schedulers/index.js';
export { IpvsService, serviceKey } from './service.js';
export type { IpvsSysctls, IpvsTableOptions, IpvsTimeoutSet } from './table.js';
export { DEFAULT_IPVS_SYSCTLS, IpvsTable, KUBE_PROXY_IPVS_SYSCTLS } from './table.js';
export type { IpvsTcpState, TcpStateDir } from './tcp-state.js';
export {
  DEFAULT_TCP_TIMEOUTS,
  DEFAULT_UDP_TIMEOUT,
  IPVS_TCP_STATES,
  ipvsTcpNext,
  tcpStateActive,
} from './tcp-state.js';
export type {
  IpvsDestinationSpec,
  IpvsForward,
  IpvsPersistence,
  IpvsProtocol,
  IpvsSchedFlag,
  IpvsSchedulerName,
  IpvsServiceSpec,
} from './types.js';
