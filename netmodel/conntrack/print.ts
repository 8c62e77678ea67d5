/**
 * `conntrack -L` text exactly as conntrack-tools 1.4.x prints it (libnetfilter_conntrack
 * snprintf_default.c), and a stable JSON shape for `-o json` (conntrack itself has XML, not JSON; the
 * JSON follows its XML: original, reply, independent).
 *
 *   tcp      6 431999 ESTABLISHED src=10.244.0.5 dst=10.96.0.10 sport=40000 dport=80 \
 *     src=10.244.1.7 dst=10.244.0.5 sport=8080 dport=40000 [ASSURED] mark=0 use=1
 *
 * Order: [l3 name padded to 8, family number] (only with -o extended), l4 name padded to 8, protocol
 * number, seconds left, TCP state, original tuple, its counters (when accounting is on),
 * [UNREPLIED], reply tuple, its counters, [ASSURED], mark, use, [id] (with -o id).
 */
import type { ConntrackEntryView, CtCounter } from './entry.js';
import { secondsLeft } from './entry.js';
import { CtStatus } from './status.js';
import type { Tuple } from './tuple.js';
import { FAMILY_NUMBER, isIcmp, PROTO_NUMBER } from './tuple.js';

/** The conntrack-tools version whose output kpath reproduces. */
export const CONNTRACK_TOOLS_VERSION = '1.4.7';

export interface ConntrackPrintOptions {
  /** `-o extended`: the layer-3 columns first. */
  readonly extended?: boolean;
  /** `-o id`: the entry id last. */
  readonly id?: boolean;
}

function tupleText(t: Tuple): string {
  const addrs = `src=${t.src.text} dst=${t.dst.text} `;
  if (isIcmp(t.proto)) return `${addrs}type=${t.icmpType ?? 0} code=${t.icmpCode ?? 0} id=${t.sport} `;
  return `${addrs}sport=${t.sport} dport=${t.dport} `;
}

function countersText(c: CtCounter | undefined): string {
  return c ? `packets=${c.packets} bytes=${c.bytes} ` : '';
}

/** One line of `conntrack -L` (no newline). */
export function formatConntrackEntry(
  e: ConntrackEntryView,
  now: number,
  opts: ConntrackPrintOptions = {},
): string {
  const o = e.original;
  let s = '';
  if (opts.extended) s += `${(o.family === 4 ? 'ipv4' : 'ipv6').padEnd(8)} ${FAMILY_NUMBER[o.family]} `;
  s += `${o.proto.padEnd(8)} ${PROTO_NUMBER[o.proto]} `;
  s += `${secondsLeft(e, now)} `;
  if (e.tcpState !== undefined) s += `${e.tcpState} `;
  s += tupleText(o);
  s += countersText(e.counters?.original);
  if ((e.status & CtStatus.SEEN_REPLY) === 0) s += '[UNREPLIED] ';
  s += tupleText(e.reply);
  s += countersText(e.counters?.reply);
  if (e.status & CtStatus.ASSURED) s += '[ASSURED] ';
  s += `mark=${e.mark >>> 0} `;
  s += 'use=1 ';
  if (opts.id) s += `id=${e.id} `;
  return s.slice(0, -1);
}

/** The whole listing, one line per entry, each ending in a newline (what goes to stdout). */
export function formatConntrackList(
  entries: readonly ConntrackEntryView[],
  now: number,
  opts: ConntrackPrintOptions = {},
): string {
  return entries.map((e) => `${formatConntrackEntry(e, now, opts)}\n`).join('');
}

/** The line conntrack prints on stderr after a listing. */
export function conntrackSummary(count: number): string {
  return `conntrack v${CONNTRACK_TOOLS_VERSION} (conntrack-tools): ${count} flow entries have been shown.`;
}

export interface ConntrackTupleJson {
  readonly l3proto: 'ipv4' | 'ipv6';
  readonly l4proto: string;
  readonly src: string;
  readonly dst: string;
  /** TCP/UDP/SCTP */
  readonly sport?: number;
  readonly dport?: number;
  /** ICMP/ICMPv6 */
  readonly type?: number;
  readonly code?: number;
  readonly id?: number;
  readonly packets?: number;
  readonly bytes?: number;
}

export interface ConntrackJson {
  readonly id: number;
  readonly original: ConntrackTupleJson;
  readonly reply: ConntrackTupleJson;
  readonly independent: {
    readonly state?: string;
    readonly timeout: number;
    readonly mark: number;
    readonly use: number;
    readonly assured: boolean;
    readonly unreplied: boolean;
    readonly snat: boolean;
    readonly dnat: boolean;
    readonly status: number;
  };
}

function tupleJson(t: Tuple, c: CtCounter | undefined): ConntrackTupleJson {
  const base = { l3proto: t.family === 4 ? ('ipv4' as const) : ('ipv6' as const), l4proto: t.proto };
  const l4 = isIcmp(t.proto)
    ? { type: t.icmpType ?? 0, code: t.icmpCode ?? 0, id: t.sport }
    : { sport: t.sport, dport: t.dport };
  return {
    ...base,
    src: t.src.text,
    dst: t.dst.text,
    ...l4,
    ...(c ? { packets: c.packets, bytes: c.bytes } : {}),
  };
}

/** The `-o json` object of one entry. */
export function conntrackJson(e: ConntrackEntryView, now: number): ConntrackJson {
  return {
    id: e.id,
    original: tupleJson(e.original, e.counters?.original),
    reply: tupleJson(e.reply, e.counters?.reply),
    independent: {
      ...(e.tcpState !== undefined ? { state: e.tcpState } : {}),
      timeout: secondsLeft(e, now),
      mark: e.mark >>> 0,
      use: 1,
      assured: (e.status & CtStatus.ASSURED) !== 0,
      unreplied: (e.status & CtStatus.SEEN_REPLY) === 0,
      snat: (e.status & CtStatus.SRC_NAT) !== 0,
      dnat: (e.status & CtStatus.DST_NAT) !== 0,
      status: e.status,
    },
  };
}
