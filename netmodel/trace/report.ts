/**
 * A walk as a stable, documented JSON shape (`kpath trace -o json`):
 *
 *   { packet: {...}, node: "worker-1", outcomes: [ { probability, verdict: "ACCEPT"|"DROP"|"REJECT",
 *     dnat: "ip:port"|null, snat: "ip:port"|null (ICMP: "ip", with "(echo id A -> B)" when it changed), masquerade: boolean, result: {...}, conntrack: "..."|null,
 *     hops: [...] } ] }
 */
import { type IP, joinHostPort } from '../addr.js';
import { formatConntrackEntry } from '../conntrack/index.js';
import type { Stage, WalkResult } from '../kernel/index.js';
import type { Packet } from '../packet.js';
import { chainMeaning } from './meaning.js';

export interface PacketJson {
  readonly proto: string;
  readonly src: string;
  readonly sport: number;
  readonly dst: string;
  readonly dport: number;
  readonly mark: string;
  readonly iif?: string;
  readonly oif?: string;
}

export type HopJson =
  | {
      readonly kind: 'table';
      readonly hook: string;
      readonly table: string;
      readonly chains: readonly { chain: string; meaning: string | null }[];
      readonly rules: readonly { chain: string; num: number; rule: string }[];
      readonly verdict: string;
      readonly byPolicy: boolean;
      readonly nat: string | null;
      readonly before: PacketJson;
      readonly after: PacketJson;
      readonly logs: readonly string[];
    }
  | {
      readonly kind: 'conntrack';
      readonly hook: string;
      readonly state: string;
      readonly dir: string | null;
      readonly created: boolean;
      readonly note: string | null;
    }
  | {
      readonly kind: 'nat';
      readonly hook: string;
      readonly manip: string;
      readonly binding: string;
      readonly before: PacketJson;
      readonly after: PacketJson;
      /** Present when a closing conntrack entry was evicted to free the port. */
      readonly note?: string;
    }
  | { readonly kind: 'nat-skipped'; readonly hook: string; readonly reason: string }
  | {
      readonly kind: 'route';
      readonly decision: string;
      readonly dev: string | null;
      readonly nextHop: string | null;
    }
  | { readonly kind: 'confirm'; readonly hook: string; readonly ok: boolean; readonly note: string | null }
  | {
      readonly kind: 'ipvs';
      readonly hook: string;
      readonly action: string;
      /** The real server of the IPVS connection, when there is one. */
      readonly destination: string | null;
      readonly why: readonly string[];
      /**
       * `trace --all`: this path's pick among the real servers the scheduler could choose (absent on a
       * single seeded trace): decidedBy cycle (rr, wrr), counts (lc, wlc, sed, nq), packet (sh, dh,
       * mh: the only choice), weights (fo); index of `of`, its probability and the rule.
       */
      readonly choice?: {
        readonly decidedBy: string;
        readonly index: number;
        readonly of: number;
        readonly probability: number;
        readonly rule: string;
      };
      readonly before: PacketJson;
      readonly after: PacketJson;
    };

export interface OutcomeJson {
  readonly probability: number;
  readonly verdict: 'ACCEPT' | 'DROP' | 'REJECT';
  readonly dnat: string | null;
  readonly snat: string | null;
  readonly masquerade: boolean;
  /** Where the packet ended on this node. */
  readonly result: { readonly kind: string; readonly detail: string; readonly packet: PacketJson | null };
  readonly conntrack: string | null;
  readonly hops: readonly HopJson[];
}

export function packetJson(p: Packet): PacketJson {
  return {
    proto: p.proto,
    src: p.src.text,
    sport: p.sport,
    dst: p.dst.text,
    dport: p.dport,
    mark: `0x${p.mark.toString(16)}`,
    ...(p.iif ? { iif: p.iif } : {}),
    ...(p.oif ? { oif: p.oif } : {}),
  };
}

function hopJson(s: Stage): HopJson {
  switch (s.kind) {
    case 'table': {
      const chains = s.trace
        .filter((t) => t.kind === 'chain')
        .map((t) => ({ chain: t.chain, meaning: chainMeaning(t.chain) ?? null }));
      const rules = s.trace.flatMap((t) =>
        t.kind === 'rule' ? [{ chain: t.chain, num: t.num, rule: t.text }] : [],
      );
      return {
        kind: 'table',
        hook: s.hook,
        table: s.table,
        chains,
        rules,
        verdict: s.verdict.kind === 'REJECT' ? `REJECT --reject-with ${s.verdict.with}` : s.verdict.kind,
        byPolicy: s.byPolicy,
        nat: s.nat ? natText(s.nat) : null,
        before: packetJson(s.before),
        after: packetJson(s.after),
        logs: s.logs.map((l) => l.text),
      };
    }
    case 'conntrack':
      return {
        kind: 'conntrack',
        hook: s.hook,
        state: s.state,
        dir: s.dir ?? null,
        created: s.created,
        note: s.note ?? null,
      };
    case 'nat':
      return {
        kind: 'nat',
        hook: s.hook,
        manip: s.manip,
        binding: s.binding,
        before: packetJson(s.before),
        after: packetJson(s.after),
        ...(s.note ? { note: s.note } : {}),
      };
    case 'nat-skipped':
      return { kind: 'nat-skipped', hook: s.hook, reason: s.reason };
    case 'route':
      return { kind: 'route', decision: s.decision, dev: s.dev ?? null, nextHop: s.nextHop?.text ?? null };
    case 'confirm':
      return { kind: 'confirm', hook: s.hook, ok: s.ok, note: s.note ?? null };
    case 'ipvs':
      return {
        kind: 'ipvs',
        hook: s.hook,
        action: s.action,
        destination: s.conn ? s.conn.destName : null,
        why: s.lines,
        ...(s.explanation?.choice
          ? {
              choice: {
                decidedBy: s.explanation.choice.decidedBy,
                index: s.explanation.choice.index,
                of: s.explanation.choice.of,
                probability: s.explanation.choice.probability,
                rule: s.explanation.choice.rule,
              },
            }
          : {}),
        before: packetJson(s.before),
        after: packetJson(s.after),
      };
  }
}

function natText(n: NonNullable<Extract<Stage, { kind: 'table' }>['nat']>): string {
  switch (n.kind) {
    case 'DNAT':
    case 'SNAT':
      return `${n.kind} to ${n.ip ? (n.port !== undefined ? joinHostPort(n.ip, n.port) : n.ip.text) : `port ${n.port}`}`;
    case 'MASQUERADE':
      return `MASQUERADE${n.randomFully ? ' --random-fully' : ''}`;
    case 'REDIRECT':
      return `REDIRECT${n.port !== undefined ? ` to port ${n.port}` : ''}`;
  }
}

export function resultDetail(r: WalkResult): { kind: string; detail: string; packet: PacketJson | null } {
  const o = r.outcome;
  switch (o.kind) {
    case 'delivered':
      return {
        kind: 'delivered',
        detail: 'delivered to a local socket on this node',
        packet: packetJson(o.packet),
      };
    case 'sent':
      return {
        kind: o.forwarded ? 'forwarded' : 'sent',
        detail: `${o.forwarded ? 'forwarded' : 'sent'} out of ${o.dev} to next hop ${o.nextHop.text}`,
        packet: packetJson(o.packet),
      };
    case 'dropped':
      return { kind: 'dropped', detail: o.reason, packet: null };
    case 'rejected':
      return {
        kind: 'rejected',
        detail: `rejected by the ${o.table} table in ${o.hook} (--reject-with ${o.with})`,
        packet: null,
      };
    case 'unreachable':
      return { kind: 'unreachable', detail: o.reason, packet: null };
  }
}

/**
 * Where NAT sent the packet: ip:port, or for an ICMP query the address, with the echo id when source
 * NAT changed it (an ICMP tuple has no ports; the id is what the kernel rewrites in their place).
 */
function natTarget(r: WalkResult, to: { readonly ip: IP; readonly port: number }): string {
  const p = r.input;
  if (p.proto !== 'icmp' && p.proto !== 'icmpv6') return joinHostPort(to.ip, to.port);
  const id = p.icmp?.id;
  return id !== undefined && id !== to.port ? `${to.ip.text} (echo id ${id} -> ${to.port})` : to.ip.text;
}

export function outcomeJson(r: WalkResult, probability: number, now: number): OutcomeJson {
  const masquerade = r.stages.some(
    (s) =>
      s.kind === 'table' && s.hook === 'POSTROUTING' && s.table === 'nat' && s.nat?.kind === 'MASQUERADE',
  );
  return {
    probability,
    verdict: r.verdict,
    dnat: r.dnat ? natTarget(r, r.dnat) : null,
    snat: r.snat ? natTarget(r, r.snat) : null,
    masquerade,
    result: resultDetail(r),
    conntrack: r.ct ? formatConntrackEntry(r.ct, now) : null,
    hops: r.stages.map(hopJson),
  };
}
