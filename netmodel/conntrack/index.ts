// Public surface of netmodel/conntrack, listed by hand.
export type { ConntrackEntryView, CtCounter } from './entry.js';
export { secondsLeft } from './entry.js';
export type { ConntrackFilter } from './filter.js';
export { matchesFilter } from './filter.js';
export type { NatManip, NatRange, TupleTaken } from './nat.js';
export {
  chooseNatTuple,
  isDnat,
  isSnat,
  NF_NAT_HARDER_THRESH,
  NF_NAT_MAX_ATTEMPTS,
  natPacket,
  translate,
  tupleInRange,
} from './nat.js';
export type { ConntrackJson, ConntrackPrintOptions, ConntrackTupleJson } from './print.js';
export {
  CONNTRACK_TOOLS_VERSION,
  conntrackJson,
  conntrackSummary,
  formatConntrackEntry,
  formatConntrackList,
} from './print.js';
export type { CtDirection, CtInfo, CtState, CtStatusName } from './status.js';
export { CT_NAT_MASK, CtStatus, ctinfoState, statusNames } from './status.js';
export type { ConntrackSysctls } from './sysctls.js';
export { conntrackSysctls, DEFAULT_CONNTRACK_SYSCTLS } from './sysctls.js';
export type {
  ConfirmResult,
  CtResult,
  CtStats,
  NatContext,
  NatSetupResult,
  ProcessOptions,
} from './table.js';
export { ConntrackTable, TABLE_FULL_MESSAGE } from './table.js';
export type { TcpFlagIndex, TcpNext, TcpState } from './tcp.js';
export { TCP_STATES, tcpFlagIndex, tcpFlagsValid, tcpStateTimeout, tcpTableNext } from './tcp.js';
export type { SeqSource } from './tcp-seq.js';
export { initialSeq, isnClock, isnHash, originatorSeqEnd, seqHasAdvanced } from './tcp-seq.js';
export type { Tuple } from './tuple.js';
export {
  FAMILY_NUMBER,
  icmpIsError,
  icmpValidNew,
  invertTuple,
  PROTO_NUMBER,
  tupleEquals,
  tupleKey,
  tupleOf,
} from './tuple.js';
