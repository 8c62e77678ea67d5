// The public surface of netmodel/dns, listed by hand. Pure: no sockets, no clock, no randomness.
export type { Answerer, AnswererOptions, AnswerOutcome, Transport } from './answer.js';
export { createAnswerer, mergeChase } from './answer.js';
export { formatDig, rdataText, rrText } from './dig.js';
export { dnsViewOf, kubeDnsAddresses, podResolvConfOf, zoneOptionsOf } from './from-snapshot.js';
export type { LookupResult } from './lookup.js';
export { lookup, soaRecord } from './lookup.js';
export type { Message, Question, RData, ResourceRecord } from './message.js';
export { fqdn, hasFlag, isResponse, isSubdomain, lowerName, opcodeOf, rcodeOf } from './message.js';
export type { PodResolvConf, PodResolvConfInput, ResolveQuery, ResolveResult } from './resolv.js';
export { podResolvConf, resolveFromPod, searchCandidates } from './resolv.js';
export type {
  DnsClusterView,
  DnsEndpoint,
  DnsEndpointSlice,
  DnsPod,
  DnsPort,
  DnsProtocol,
  DnsService,
  DnsServiceType,
  PodsMode,
  ZoneOptions,
} from './view.js';
export { ZONE_DEFAULTS } from './view.js';
export {
  className,
  EDNS_SIZE,
  Flag,
  Opcode,
  opcodeName,
  parseTypeName,
  Rcode,
  RRClass,
  RRType,
  rcodeName,
  TCP_MAX_SIZE,
  typeName,
  UDP_DEFAULT_SIZE,
} from './wire-constants.js';
export { DnsFormatError, decodeMessage } from './wire-read.js';
export type { Encoded } from './wire-write.js';
export { encodeMessage, optRecord } from './wire-write.js';
export type { Zone, ZoneEndpoint, ZonePort, ZoneService } from './zone.js';
export { addressFromReverse, buildZone, dashedAddress, matchZone, reverseName } from './zone.js';
