/**
 * Packets through the emulated IPVS (net/netfilter/ipvs/ip_vs_core.c), as pure functions of the
 * table, the packet and the time:
 *
 *   ipvsIn   a client -> VIP packet (ip_vs_in: the LOCAL_IN hook at NF_IP_PRI_NAT_SRC - 1 for
 *            packets from elsewhere, LOCAL_OUT at NF_IP_PRI_NAT_DST + 2 for locally generated ones):
 *            an existing connection, or a new one from the scheduler (through a persistence
 *            template on a persistent service); the packet comes back DNATed to the real server
 *            (ip_vs_nat_xmit).
 *   ipvsOut  a real server -> client reply (ip_vs_out: LOCAL_IN at NF_IP_PRI_NAT_SRC - 2, LOCAL_OUT
 *            at NF_IP_PRI_NAT_DST + 1, FORWARD at NF_IP_PRI_NAT_SRC): its source goes back to the
 *            virtual address and port.
 *
 * Both update the connection's TCP state, timer, active/inactive counters and the statistics.
 * ICMP errors for IPVS connections (ip_vs_in_icmp) and SCTP connections are not emulated: they come
 * back as `miss` with the reason.
 */
import type { IP } from '../addr.js';
import { joinHostPort, prefixOf } from '../addr.js';
import type { Packet } from '../packet.js';
import { withDestination, withSource } from '../packet.js';
import { ipvsChoices } from './choices.js';
import type { IpvsConn, IpvsConnView } from './conn.js';
import type { IpvsDest } from './dest.js';
import type { SchedExplanation, SchedPacket, SchedResult } from './schedulers/types.js';
import { pickDest } from './schedulers/types.js';
import type { IpvsService } from './service.js';
import type { IpvsTable } from './table.js';
import { ipvsTcpNext, NEW_CONN_TIMEOUT_S, tcpStateActive, tcpTimeoutOf } from './tcp-state.js';
import type { IpvsProtocol } from './types.js';

export type IpvsHook = 'LOCAL_IN' | 'LOCAL_OUT' | 'FORWARD';

/** What happened with persistence for a new connection. */
export interface PersistenceExplanation {
  /** The template key's client network (client address & netmask) and the netmask length. */
  readonly clientNet: string;
  readonly netmaskBits: number;
  /** hit: an existing template gave the real server; new: the scheduler ran and a template was made;
   * invalid: a template existed but its real server is gone or quiesced, so the scheduler ran. */
  readonly template: 'hit' | 'new' | 'invalid';
  readonly templateId: number;
  readonly timeoutSeconds: number;
  /** Seconds left on the template after this packet. */
  readonly expiresIn: number;
}

export interface IpvsExplanation {
  /** `TCP 10.96.0.10:80` */
  readonly service: string;
  readonly scheduler: string;
  /** The real servers in the kernel's list order (newest first), as the scheduler walks them. */
  readonly kernelOrder: readonly string[];
  readonly persistence?: PersistenceExplanation;
  /** The scheduler's reasoning, when it ran. */
  readonly schedule?: SchedExplanation;
  /** For an existing connection: its state before this packet. */
  readonly existing?: { readonly state: string; readonly id: number };
  /**
   * When a tracer enumerating every path chose among the real servers the scheduler could pick
   * (IpvsInOptions.choose): which one this path took, its probability and the rule that makes it.
   */
  readonly choice?: IpvsPathChoice;
  /** One line per step, for a trace. */
  readonly lines: readonly string[];
}

export interface IpvsPathChoice {
  readonly decidedBy: 'cycle' | 'packet' | 'counts' | 'weights';
  /** 1-based, of `of`. */
  readonly index: number;
  readonly of: number;
  readonly destination: string;
  readonly probability: number;
  readonly rule: string;
}

export type IpvsInResult =
  /** Not IPVS's: the packet goes on to the local stack (no virtual service, or not a connection start). */
  | { readonly kind: 'miss'; readonly reason: string }
  /** IPVS drops it (no real server: ip_vs_leave answers ICMP port unreachable; or a reused connection). */
  | {
      readonly kind: 'drop';
      readonly reason: string;
      /** ICMP port unreachable goes back to the client. */
      readonly icmpPortUnreachable: boolean;
      readonly explanation?: IpvsExplanation;
    }
  | {
      readonly kind: 'scheduled' | 'existing';
      readonly conn: IpvsConnView;
      readonly service: IpvsService | undefined;
      readonly destination: IpvsDest;
      /** The packet after IPVS NAT (destination = the real server). */
      readonly packet: Packet;
      readonly explanation: IpvsExplanation;
      /** net.ipv4.vs.conntrack: conntrack keeps the flow, its reply tuple altered to the real server. */
      readonly nfct: boolean;
    };

export type IpvsOutResult =
  | { readonly kind: 'miss'; readonly reason: string }
  | {
      readonly kind: 'reply';
      readonly conn: IpvsConnView;
      readonly destination: IpvsDest;
      /** The packet after IPVS un-NAT (source = the virtual address and port). */
      readonly packet: Packet;
      readonly nfct: boolean;
      readonly lines: readonly string[];
    };

export interface IpvsInOptions {
  readonly hook?: IpvsHook;
  /**
   * The packet's conntrack entry existed before it (a reused client port whose old flow conntrack
   * still holds): with conn_reuse_mode the kernel then drops the SYN instead of rescheduling
   * (ip_vs_conn_uses_old_conntrack).
   */
  readonly oldConntrack?: boolean;
  /** Build the explanation's sentences (default true; the real-traffic path turns it off). */
  readonly explain?: boolean;
  /**
   * A tracer enumerating every path (`Rng.choose`): offered the real servers a state-dependent
   * scheduler could pick (ipvsChoices), it returns the index of the one this path takes.
   */
  readonly choose?: (weights: readonly number[]) => number;
}

/** The explanation's sentences, built only when asked for. */
/** The reply lines of a packet handled without explanation (shared, never written). */
const NO_LINES: readonly string[] = Object.freeze([]);

class Lines {
  readonly list: string[];
  constructor(readonly on: boolean) {
    this.list = on ? [] : (NO_LINES as string[]);
  }
  say(f: () => string): void {
    if (this.on) this.list.push(f());
  }
}

/** The lines of every call that builds none (say never writes to them). */
const NO_SENTENCES = new Lines(false);

function protoOf(p: Packet): IpvsProtocol | undefined {
  return p.proto === 'tcp' ? 'TCP' : p.proto === 'udp' ? 'UDP' : p.proto === 'sctp' ? 'SCTP' : undefined;
}

/** A client -> virtual service packet. */
export function ipvsIn(table: IpvsTable, p: Packet, now: number, opts: IpvsInOptions = {}): IpvsInResult {
  table.expire(now);
  const r = ipvsInAt(
    table,
    p,
    now,
    opts.oldConntrack === true,
    opts.explain === false ? EXPLAIN_FACTS : EXPLAIN_ALL,
    opts.choose,
    false,
  );
  switch (r.kind) {
    case 'pass':
      return { kind: 'miss', reason: r.reason };
    case 'drop':
      return r;
    default:
      return {
        kind: r.action,
        conn: r.conn,
        service: r.service,
        destination: r.destination,
        packet: r.packet,
        explanation: r.explanation,
        nfct: r.nfct,
      };
  }
}

/**
 * How much of an explanation ipvsInAt builds: none (a caller that reads only the packet and the
 * connection, as the walker's lean walks), the facts without the sentences, or all of it.
 */
export const EXPLAIN_NONE = 0;
export const EXPLAIN_FACTS = 1;
export const EXPLAIN_ALL = 2;
export type ExplainLevel = typeof EXPLAIN_NONE | typeof EXPLAIN_FACTS | typeof EXPLAIN_ALL;

/** IPVS let a packet go on unchanged (ip_vs_in / ip_vs_out returned NF_ACCEPT without touching it). */
export interface IpvsPass {
  readonly kind: 'pass';
  readonly reason: string;
}

/** A request IPVS took: `packet` is DNATed to the real server and goes there (ip_vs_nat_xmit). */
export interface IpvsXmit {
  readonly kind: 'xmit';
  readonly action: 'scheduled' | 'existing';
  readonly conn: IpvsConnView;
  readonly service: IpvsService | undefined;
  readonly destination: IpvsDest;
  readonly packet: Packet;
  readonly nfct: boolean;
  readonly explanation: IpvsExplanation;
}

/** IPVS drops the packet (NF_DROP), answering ICMP port unreachable when no real server is left. */
export interface IpvsDrop {
  readonly kind: 'drop';
  readonly reason: string;
  readonly icmpPortUnreachable: boolean;
  readonly explanation?: IpvsExplanation;
}

/** A reply un-NATed (source back to the virtual address); the packet goes on. */
export type IpvsReply = Extract<IpvsOutResult, { kind: 'reply' }>;

/** The passes whose reason is fixed: one object each, shared (callers only read them). */
const PASS_NO_SERVICE: IpvsPass = Object.freeze({ kind: 'pass', reason: 'no virtual service' });
const PASS_NOT_SYN: IpvsPass = Object.freeze({
  kind: 'pass',
  reason: 'no IPVS connection and not a SYN',
});
const PASS_NOT_REPLY: IpvsPass = Object.freeze({ kind: 'pass', reason: 'not a reply of an IPVS connection' });
const PASS_NOT_MASQ: IpvsPass = Object.freeze({
  kind: 'pass',
  reason: 'the connection does not masquerade',
});

/** The explanation of a packet handled with EXPLAIN_NONE (shared, never written). */
const NO_EXPLANATION: IpvsExplanation = Object.freeze({
  service: '',
  scheduler: '',
  kernelOrder: Object.freeze([]) as readonly string[],
  lines: NO_LINES,
});

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * The results handed to a lean caller (EXPLAIN_NONE; ipvsOutAt's `pooled`): one object each, filled
 * anew by every such call. The walker's lean walks read a result before the next packet and keep
 * nothing of it, so a packet of an established connection allocates no result.
 */
const LEAN_XMIT: Mutable<IpvsXmit> = {
  kind: 'xmit',
  action: 'existing',
  conn: undefined as unknown as IpvsConnView,
  service: undefined,
  destination: undefined as unknown as IpvsDest,
  packet: undefined as unknown as Packet,
  nfct: false,
  explanation: NO_EXPLANATION,
};
const LEAN_REPLY: Mutable<IpvsReply> = {
  kind: 'reply',
  conn: undefined as unknown as IpvsConnView,
  destination: undefined as unknown as IpvsDest,
  packet: undefined as unknown as Packet,
  nfct: false,
  lines: NO_LINES,
};

/**
 * ipvsIn's work for a packet on a hook, once the timers due at `now` have run (the walker runs them
 * once as the packet enters the node): what IPVS does per packet, ip_vs_conn_in_get's lookup, the
 * state transition, and the scheduler only for a new connection. `owned`: nothing else holds `p`,
 * so its DNAT is written into it (packet.ts). With EXPLAIN_NONE an xmit result is a shared object,
 * valid until the next such call.
 */
export function ipvsInAt(
  table: IpvsTable,
  p: Packet,
  now: number,
  oldConntrack: boolean,
  level: ExplainLevel,
  choose: IpvsInOptions['choose'],
  owned: boolean,
): IpvsPass | IpvsDrop | IpvsXmit {
  const proto = protoOf(p);
  if (!proto) return { kind: 'pass', reason: `${p.proto} is not scheduled by IPVS` };
  if (proto === 'SCTP') return { kind: 'pass', reason: 'SCTP connections are not emulated' };
  const flags = p.tcp;
  let cp = table.conns.getIn(proto, p.src, p.sport, p.dst, p.dport);
  const lines = level === EXPLAIN_ALL ? new Lines(true) : NO_SENTENCES;

  // conn_reuse_mode: a SYN on an entry that is done (TIME_WAIT/CLOSE, not controlled) starts anew.
  if (cp && table.sysctls.connReuseMode && proto === 'TCP' && flags?.syn) {
    let resched = false;
    let oldCt = false;
    if (table.sysctls.expireNodestConn && cp.dest.weight === 0) {
      resched = true;
      oldCt = cp.nfct && oldConntrack;
    } else if (isNewConnExpected(cp, table.sysctls.connReuseMode)) {
      oldCt = cp.nfct && oldConntrack;
      resched = cp.nControl === 0 ? true : !oldCt;
    }
    if (resched) {
      if (cp.nControl === 0) table.conns.remove(cp);
      if (oldCt)
        return {
          kind: 'drop',
          reason: `a new SYN reuses connection #${cp.id} (${cp.state}) whose conntrack entry still exists: IPVS drops it (conn_reuse_mode; the client retransmits)`,
          icmpPortUnreachable: false,
        };
      const old = cp;
      if (lines.on)
        lines.say(
          () =>
            `connection #${old.id} (${old.state}) is done and a new SYN reuses its ports: scheduled again (conn_reuse_mode)`,
        );
      cp = undefined;
    }
  }
  // The real server is gone (deleted, in the trash).
  if (cp && !cp.dest.available) {
    if (table.sysctls.expireNodestConn) {
      const oldCt = cp.nfct && oldConntrack;
      table.conns.remove(cp);
      if (oldCt)
        return {
          kind: 'drop',
          reason: `real server ${cp.dest.name} was removed: connection #${cp.id} expired at once (expire_nodest_conn)`,
          icmpPortUnreachable: false,
        };
      const old = cp;
      if (lines.on)
        lines.say(
          () =>
            `real server ${old.dest.name} was removed: connection #${old.id} expired (expire_nodest_conn)`,
        );
      cp = undefined;
    } else {
      return {
        kind: 'drop',
        reason: `real server ${cp.dest.name} was removed; its connection #${cp.id} lives on until it times out and its packets are dropped (expire_nodest_conn=0)`,
        icmpPortUnreachable: false,
      };
    }
  }

  let kind: 'scheduled' | 'existing' = 'existing';
  let svc: IpvsService | undefined;
  let schedule: SchedExplanation | undefined;
  let persistence: PersistenceExplanation | undefined;
  let existing: IpvsExplanation['existing'];
  let choice: IpvsPathChoice | undefined;
  if (cp) {
    svc = table.serviceOf(cp.serviceKey);
    if (level !== EXPLAIN_NONE) existing = { state: cp.state, id: cp.id };
    const c = cp;
    if (lines.on) lines.say(() => `existing IPVS connection #${c.id} (${c.state}) -> ${c.dest.name}`);
  } else {
    svc = table.findService(proto, p.dst, p.dport);
    if (!svc)
      return lines.on
        ? { kind: 'pass', reason: `no virtual service ${proto} ${joinHostPort(p.dst, p.dport)}` }
        : PASS_NO_SERVICE;
    // tcp_conn_schedule: only a SYN (no RST) starts a connection; anything else continues to the stack.
    if (proto === 'TCP' && !(flags?.syn && !flags.rst))
      return lines.on
        ? {
            kind: 'pass',
            reason: `no IPVS connection for this ${describeFlags(flags)} segment and only a SYN starts one: it goes on to the local stack`,
          }
        : PASS_NOT_SYN;
    const r = schedulePacket(table, svc, proto, p, now, lines, choose, level);
    schedule = r.schedule;
    persistence = r.persistence;
    choice = r.choice;
    if (!r.conn) {
      const reason = `${svc.name}: no destination available; ICMP port unreachable to the client (ip_vs_leave)`;
      if (level === EXPLAIN_NONE) return { kind: 'drop', reason, icmpPortUnreachable: true };
      const explanation = explain(svc, lines, schedule, persistence, undefined, choice);
      return { kind: 'drop', reason, icmpPortUnreachable: true, explanation };
    }
    cp = r.conn;
    kind = 'scheduled';
  }

  // ip_vs_in_stats, ip_vs_set_state(INPUT), packet_xmit, ip_vs_conn_put.
  inStats(table, cp, svc, p.length);
  setState(table, cp, 'INPUT', p);
  cp.touch(now);
  table.conns.rearmed(cp);
  // The sentence before the NAT: an owned packet is changed in place.
  if (lines.on)
    lines.say(
      () =>
        `DNAT ${joinHostPort(p.dst, p.dport)} -> ${joinHostPort(cp.daddr, cp.dport)} (masquerading forward); IPVS state ${cp.state}, expires in ${Math.round(cp.timeoutMs / 1000)}s`,
    );
  const out = withDestination(p, cp.daddr, cp.dport, owned);
  if (level === EXPLAIN_NONE) {
    // The lean caller reads the result at once and keeps nothing: the one shared object.
    const x = LEAN_XMIT;
    x.action = kind;
    x.conn = cp;
    x.service = svc;
    x.destination = cp.dest;
    x.packet = out;
    x.nfct = cp.nfct;
    return x;
  }
  return {
    kind: 'xmit',
    action: kind,
    conn: cp,
    service: svc,
    destination: cp.dest,
    packet: out,
    nfct: cp.nfct,
    explanation: explain(svc, lines, schedule, persistence, existing, choice),
  };
}

/** A real server -> client packet: un-NAT the source from the connection (handle_response). */
export function ipvsOut(table: IpvsTable, p: Packet, now: number, explain = true): IpvsOutResult {
  table.expire(now);
  const r = ipvsOutAt(table, p, now, explain, false);
  return r.kind === 'pass' ? { kind: 'miss', reason: r.reason } : r;
}

/**
 * ipvsOut's work once the timers due at `now` have run (see ipvsInAt; `owned` likewise). `pooled`
 * (without `explain`): a reply result is a shared object, valid until the next such call.
 */
export function ipvsOutAt(
  table: IpvsTable,
  p: Packet,
  now: number,
  explain: boolean,
  owned: boolean,
  pooled = false,
): IpvsPass | IpvsReply {
  const proto = protoOf(p);
  if (!proto || proto === 'SCTP') return { kind: 'pass', reason: `${p.proto}: no IPVS connection` };
  const cp = table.conns.getOut(proto, p.src, p.sport, p.dst, p.dport);
  if (!cp) return PASS_NOT_REPLY;
  if (cp.dest.forward !== 'Masq') return PASS_NOT_MASQ;
  // The source as it came, before an owned packet is changed in place.
  const from = explain ? joinHostPort(p.src, p.sport) : '';
  const out = withSource(p, cp.vaddr, cp.vport, owned);
  outStats(table, cp, p.length);
  setState(table, cp, 'OUTPUT', p);
  cp.touch(now);
  table.conns.rearmed(cp);
  if (pooled && !explain) {
    const x = LEAN_REPLY;
    x.conn = cp;
    x.destination = cp.dest;
    x.packet = out;
    x.nfct = cp.nfct;
    return x;
  }
  return {
    kind: 'reply',
    conn: cp,
    destination: cp.dest,
    packet: out,
    nfct: cp.nfct,
    lines: explain
      ? [
          `reply of IPVS connection #${cp.id}: source ${from} -> ${joinHostPort(cp.vaddr, cp.vport)}; IPVS state ${cp.state}`,
        ]
      : NO_LINES,
  };
}

function describeFlags(f: Packet['tcp']): string {
  if (!f) return 'TCP';
  const names = (['syn', 'ack', 'fin', 'rst'] as const).filter((k) => f[k]).map((k) => k.toUpperCase());
  return names.length ? names.join('+') : 'flagless';
}

/** is_new_conn_expected: the old entry is finished (and not controlled by a template). */
function isNewConnExpected(cp: IpvsConn, mode: number): boolean {
  if (cp.control) return false;
  if (cp.protocol !== 'TCP') return false;
  return (
    cp.state === 'TIME_WAIT' ||
    cp.state === 'CLOSE' ||
    ((mode & 2) !== 0 && cp.state === 'FIN_WAIT' && cp.noOutput)
  );
}

function explain(
  svc: IpvsService | undefined,
  lines: Lines,
  schedule: SchedExplanation | undefined,
  persistence: PersistenceExplanation | undefined,
  existing: IpvsExplanation['existing'],
  choice?: IpvsPathChoice,
): IpvsExplanation {
  const e: { -readonly [K in keyof IpvsExplanation]: IpvsExplanation[K] } = {
    service: svc ? svc.name : '(deleted virtual service)',
    scheduler: svc ? svc.scheduler : '-',
    kernelOrder: svc ? svc.kernelOrder : [],
    lines: lines.list,
  };
  if (persistence) e.persistence = persistence;
  // A path chosen among several: the scheduler's own reasoning was about another pick.
  if (schedule && !(choice && choice.of > 1)) e.schedule = schedule;
  if (existing) e.existing = existing;
  if (choice) e.choice = choice;
  return e;
}

interface Scheduled {
  conn: IpvsConn | undefined;
  schedule?: SchedExplanation | undefined;
  persistence?: PersistenceExplanation | undefined;
  choice?: IpvsPathChoice | undefined;
}

/**
 * What schedulePacket hands an EXPLAIN_NONE caller for a service without persistence: one object,
 * its connection written by each such call (ipvsInAt reads it at once), the rest never set.
 */
const PICKED: Scheduled = { conn: undefined, schedule: undefined, persistence: undefined, choice: undefined };

/**
 * The scheduler's pick; when a tracer enumerates paths (`choose`) and the pick depends on state the
 * trace cannot know (the rr cursor, the connection counts), the tracer chooses among every real
 * server the scheduler could pick, and the line says the rule that makes this one the pick.
 */
function runScheduler(
  svc: IpvsService,
  p: SchedPacket,
  now: number,
  lines: Lines,
  choose: IpvsInOptions['choose'],
): { r: SchedResult; choice?: IpvsPathChoice } {
  const alts = choose ? ipvsChoices(svc, p, now) : undefined;
  const r = svc.sched.schedule(svc, p, now);
  if (!alts || !r.dest || alts.choices.length === 0) {
    if (lines.on) lines.say(() => r.why.text);
    return { r };
  }
  const i = alts.choices.length > 1 ? choose!(alts.choices.map((c) => c.probability)) : 0;
  const c = alts.choices[i]!;
  const choice: IpvsPathChoice = {
    decidedBy: alts.decidedBy,
    index: i + 1,
    of: alts.choices.length,
    destination: c.destination.name,
    probability: c.probability,
    rule: c.rule,
  };
  if (alts.choices.length === 1) {
    lines.say(() => r.why.text);
    lines.say(
      () =>
        `the only choice: ${svc.scheduler} decides from the ${alts.decidedBy === 'packet' ? 'packet alone' : alts.decidedBy}`,
    );
    return { r, choice };
  }
  lines.say(
    () =>
      `${c.destination.name}: choice ${i + 1} of ${alts.choices.length} real servers ${svc.scheduler} could pick (decided by the ${alts.decidedBy === 'cycle' ? "scheduler's position in its cycle" : 'connection counts'}, which earlier connections set), probability ${share(c.probability)}`,
  );
  lines.say(() => c.rule);
  return { r: { dest: c.destination, why: r.why }, choice };
}

function share(p: number): string {
  const pct = p * 100;
  return `${Number.isInteger(pct) ? pct : pct.toFixed(1)}%`;
}

/** ip_vs_schedule: a persistent service goes through its template; others ask the scheduler. */
function schedulePacket(
  table: IpvsTable,
  svc: IpvsService,
  proto: IpvsProtocol,
  p: Packet,
  now: number,
  lines: Lines,
  choose: IpvsInOptions['choose'],
  level: ExplainLevel,
): Scheduled {
  if (lines.on)
    lines.say(
      () =>
        `virtual service ${svc.name} (${svc.scheduler}${svc.flags.size ? ` ${[...svc.flags].join(',')}` : ''}${svc.persistence ? ` persistent ${svc.persistence.timeoutSeconds}` : ''}); real servers in kernel list order: ${svc.dests.map((d) => `${d.name} w${d.weight}`).join(', ') || 'none'}`,
    );
  if (svc.persistence) return schedulePersist(table, svc, proto, p, now, lines, choose);
  if (svc.port !== p.dport) {
    if (lines.on) lines.say(() => 'a port-zero service must be persistent: no destination');
    return { conn: undefined };
  }
  if (level === EXPLAIN_NONE && !choose) {
    // Only the pick: no explanation, no result object of its own.
    const dest = pickDest(svc.sched, svc, p, now);
    PICKED.conn = dest
      ? newConn(table, svc, proto, p.src, p.sport, p.dst, p.dport, dest, dest.port || p.dport, false, now)
      : undefined;
    if (PICKED.conn) connStats(table, PICKED.conn, svc);
    return PICKED;
  }
  const { r, choice } = runScheduler(svc, p, now, lines, choose);
  if (!r.dest) return { conn: undefined, schedule: r.why };
  const conn = newConn(
    table,
    svc,
    proto,
    p.src,
    p.sport,
    p.dst,
    p.dport,
    r.dest,
    r.dest.port || p.dport,
    false,
    now,
  );
  connStats(table, conn, svc);
  return choice ? { conn, schedule: r.why, choice } : { conn, schedule: r.why };
}

/** ip_vs_sched_persist. */
function schedulePersist(
  table: IpvsTable,
  svc: IpvsService,
  proto: IpvsProtocol,
  p: Packet,
  now: number,
  lines: Lines,
  choose?: IpvsInOptions['choose'],
): Scheduled {
  const pers = svc.persistence!;
  const snet = prefixOf(p.src, pers.netmaskBits).ip;
  // Template key <proto, client net, 0, vaddr, vport> for the service's own port (FTP and port-zero
  // services use vport 0).
  const tport = p.dport === svc.port && svc.port !== 21 ? p.dport : 0;
  let ct = table.conns.getTemplate(proto, snet, p.dst, tport);
  let state: PersistenceExplanation['template'] = 'hit';
  let schedule: SchedExplanation | undefined;
  let choice: IpvsPathChoice | undefined;
  if (ct && !checkTemplate(table, ct)) {
    const old = ct;
    lines.say(
      () =>
        `persistence template #${old.id} for ${snet.text} points at ${old.dest.name}, which is ${old.dest.available ? 'quiesced (weight 0, expire_quiescent_template)' : 'removed'}: invalidated`,
    );
    table.conns.invalidate(ct);
    ct = undefined;
    state = 'invalid';
  }
  let dest: IpvsDest;
  if (!ct) {
    const ran = runScheduler(svc, p, now, lines, choose);
    const r = ran.r;
    choice = ran.choice;
    schedule = r.why;
    if (!r.dest) return { conn: undefined, schedule };
    dest = r.dest;
    const dport = p.dport === svc.port && svc.port !== 21 ? dest.port : 0;
    const made = newConn(table, svc, proto, snet, 0, p.dst, tport, dest, dport, true, now);
    made.timeoutMs = pers.timeoutSeconds * 1000;
    ct = made;
    if (state !== 'invalid') state = 'new';
    const d = dest;
    lines.say(
      () =>
        `persistence: new template #${made.id} <${proto}, ${snet.text}/${pers.netmaskBits}:0, ${joinHostPort(p.dst, tport)}> -> ${d.name} for ${pers.timeoutSeconds}s`,
    );
  } else {
    const hit = ct;
    dest = hit.dest;
    lines.say(
      () =>
        `persistence: template #${hit.id} for ${snet.text}/${pers.netmaskBits} (${Math.max(0, Math.floor((hit.expiresAt - now) / 1000))}s left) sends it to ${hit.dest.name}; the scheduler is not consulted`,
    );
  }
  let dport = p.dport;
  if (dport === svc.port && dest.port) dport = dest.port;
  const cp = newConn(table, svc, proto, p.src, p.sport, p.dst, p.dport, dest, dport, false, now);
  // ip_vs_control_add, then ip_vs_conn_put(ct) restarts the template's timer.
  cp.control = ct;
  ct.nControl++;
  ct.touch(now);
  table.conns.rearmed(ct);
  connStats(table, cp, svc);
  const pe: PersistenceExplanation = {
    clientNet: snet.text,
    netmaskBits: pers.netmaskBits,
    template: state,
    templateId: ct.id,
    timeoutSeconds: Math.round(ct.timeoutMs / 1000),
    expiresIn: Math.floor((ct.expiresAt - now) / 1000),
  };
  return {
    conn: cp,
    persistence: pe,
    ...(schedule ? { schedule } : {}),
    ...(choice ? { choice } : {}),
  };
}

/** ip_vs_check_template: the template's dest must be available (and not quiesced, with the sysctl). */
function checkTemplate(table: IpvsTable, ct: IpvsConn): boolean {
  const d = ct.dest;
  if (!d.available) return false;
  if (table.sysctls.expireQuiescentTemplate && d.weight === 0) return false;
  return true;
}

function newConn(
  table: IpvsTable,
  svc: IpvsService,
  proto: IpvsProtocol,
  caddr: IP,
  cport: number,
  vaddr: IP,
  vport: number,
  dest: IpvsDest,
  dport: number,
  template: boolean,
  now: number,
): IpvsConn {
  return table.conns.create(
    proto,
    caddr,
    cport,
    vaddr,
    vport,
    dest,
    dport,
    svc.key,
    template,
    // __ip_vs_update_dest: IP_VS_CONN_F_NOOUTPUT unless masquerading.
    dest.forward !== 'Masq',
    table.sysctls.conntrack && !template,
    now,
    NEW_CONN_TIMEOUT_S * 1000,
    // Armed by the caller at once: ipvsInAt after the first packet's state (ip_vs_set_state then
    // ip_vs_conn_put), schedulePersist after a template's timeout is set.
    false,
  );
}

/** ip_vs_set_state for TCP (set_tcp_state) and UDP (udp_state_transition). */
function setState(table: IpvsTable, cp: IpvsConn, dir: 'INPUT' | 'OUTPUT', p: Packet): void {
  if (cp.protocol === 'UDP') {
    if (dir === 'OUTPUT') assure(cp);
    cp.state = 'UDP';
    cp.timeoutMs = table.udpTimeout * 1000;
    return;
  }
  let sdir: 'INPUT' | 'OUTPUT' | 'INPUT_ONLY' = dir;
  if (cp.noOutput) {
    if (dir === 'OUTPUT') cp.noOutput = false;
    else sdir = 'INPUT_ONLY';
  }
  const old = cp.state === 'UDP' || cp.state === 'ASSURED' ? 'NONE' : cp.state;
  const next = ipvsTcpNext(old, sdir, p.tcp ?? { syn: false, ack: false, fin: false, rst: false });
  if (next !== old) {
    const d = cp.dest;
    if (!cp.inactive && !tcpStateActive(next)) {
      d.activeConns--;
      d.inactConns++;
      cp.inactive = true;
    } else if (cp.inactive && tcpStateActive(next)) {
      d.activeConns++;
      d.inactConns--;
      cp.inactive = false;
    }
    if (next === 'ESTABLISHED') assure(cp);
  }
  cp.state = next;
  cp.timeoutMs = tcpTimeoutOf(table.tcpTimeouts, next) * 1000;
}

/** ip_vs_control_assure_ct: the controlling template is marked ASSURED. */
function assure(cp: IpvsConn): void {
  const ct = cp.control;
  if (ct?.template && ct.state !== 'ASSURED') ct.state = 'ASSURED';
}

/** The packet's bytes into the dest's, its service's (`svc`: the table's service of cp.serviceKey) and the totals. */
function inStats(table: IpvsTable, cp: IpvsConn, svc: IpvsService | undefined, bytes: number): void {
  const d = cp.dest;
  d.stats.inpkts++;
  d.stats.inbytes += bytes;
  if (svc) {
    svc.stats.inpkts++;
    svc.stats.inbytes += bytes;
  }
  table.totalStats.inpkts++;
  table.totalStats.inbytes += bytes;
}

function outStats(table: IpvsTable, cp: IpvsConn, bytes: number): void {
  const d = cp.dest;
  d.stats.outpkts++;
  d.stats.outbytes += bytes;
  const s = table.serviceOf(cp.serviceKey);
  if (s) {
    s.stats.outpkts++;
    s.stats.outbytes += bytes;
  }
  table.totalStats.outpkts++;
  table.totalStats.outbytes += bytes;
}

/** ip_vs_conn_stats: one more connection for the dest, its service (`svc`, as for inStats) and the total. */
function connStats(table: IpvsTable, cp: IpvsConn, svc: IpvsService): void {
  cp.dest.stats.conns++;
  svc.stats.conns++;
  table.totalStats.conns++;
}
