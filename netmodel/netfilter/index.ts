/** Public exports of the emulated netfilter (iptables) layer, listed by hand. */

export type { CompiledTable } from './compile.js';
export { compileTable, MIN_RUN } from './compile.js';
export type {
  CtTuple,
  CtView,
  EvalContext,
  EvalResult,
  IpvsPacketView,
  LogLine,
  NatRequest,
  TraceEntry,
  Verdict,
} from './context.js';
export { NetfilterState } from './context.js';
export { evaluate, policyVerdict } from './evaluate.js';
export { FlowCache } from './flow-cache.js';
export type { HookStep } from './hooks.js';
export { HOOK_ORDER, NAT_FIRST_PACKET_ONLY, NF_IP_PRI } from './hooks.js';
export type { IpSet, IpSetElement, IpSetOptions, IpSetType } from './ipset.js';
export { IpSetStore } from './ipset.js';
export {
  applyIpsetRestore,
  ipsetMemberText,
  ipsetReferences,
  parseIpsetMember,
  renderIpsetList,
  renderIpsetSave,
} from './ipset-text.js';
export type {
  AddrMatch,
  AddrType,
  AddrtypeMatch,
  CommentMatch,
  ConntrackMatch,
  CtStateName,
  HostMatch,
  IcmpMatch,
  IfaceMatch,
  IpvsMatch,
  MarkMatch,
  Match,
  MatchKind,
  MultiportMatch,
  NfacctMatch,
  PhysdevMatch,
  PortMatch,
  PortRange,
  PortsMatch,
  ProtoMatch,
  RecentCommand,
  RecentMatch,
  SetMatch,
  StateMatch,
  StatisticMatch,
  TcpMatch,
} from './match.js';
export { ADDR_TYPES, addrTypeBit, CtStateBit, CtStatus, IPPROTO, TcpFlag } from './match.js';
export { NfAcct } from './nfacct.js';
export type { RuleParseContext } from './parse-rule.js';
export { parseRuleArgs } from './parse-rule.js';
export type { RecentEntry, RecentOptions } from './recent.js';
export { RecentList, RecentTables } from './recent.js';
export type { RestoreRenderOptions, SaveOptions } from './render.js';
export {
  renderRestore,
  renderRuleSave,
  renderSave,
  ruleArgsRestore,
  ruleArgsSave,
  targetText,
} from './render.js';
export type { ApplyOptions, RestoreOp, RestoreScript, TableBlock } from './restore.js';
export { applyRestore, findLoop, loadRestore, parseRestore, parseSave } from './restore.js';
export type { BuiltinChain, Chain, Counters, Policy, Rule, Ruleset, Table, TableName } from './ruleset.js';
export {
  BUILTIN_CHAINS,
  emptyRuleset,
  emptyTable,
  isBuiltin,
  rule,
  TABLE_NAMES,
  zeroCounters,
} from './ruleset.js';
export { fixedToDecimal, probabilityToFixed } from './statistic.js';
export type { NatRange, RejectWith, Target, TargetKind } from './target.js';
export { LogFlag, xmark } from './target.js';
export { tokenizeLine } from './tokenize.js';
