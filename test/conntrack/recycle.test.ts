/**
 * Recycled conntrack entries (ConntrackTable.recycle, table.ts) against a plain table. Two tables
 * take the same random traffic on the same clock: TCP connections through every state with client
 * ports that come back (a SYN on TIME_WAIT reopens), RSTs, UDP flows, ICMP echoes, NAT on the first
 * packet (a DNAT to an endpoint, MASQUERADE --random-fully, a plain SNAT port range that reads the
 * by-source index, null bindings, IPVS's alterReply), entries left unconfirmed, CONNMARK, deletions
 * by tuple and by filter, flushes, gc, accounting switched on and off, a small nf_conntrack_max (early
 * drop, table full), and a clock that moves by nothing, by small steps, by timeouts and sometimes back.
 * The plain table leaves dead entries to V8; the other makes new flows out of them.
 *
 * After every step both must give the same answers (result kinds, ctinfo, direction, entry ids, NAT
 * bindings, evictions), the same `conntrack -L -o extended,id` listing with every entry's internal
 * state (the TCP tracker's memory, pending timeouts), the same size and statistics. And a view kept
 * from an earlier result must never show a reused entry as its old flow: while its id is the one it
 * had, it reads exactly what the plain table's view of that flow reads (a dead flow's last state).
 * A field that reinit forgets, a reuse within the clock reading the entry died at, or a reused entry
 * that keeps its id makes this fail.
 */
import { describe, expect, it } from 'vitest';
import { parseIP } from '../../netmodel/addr.js';
import type {
  ConntrackEntryView,
  CtResult,
  NatRange,
  NatSetupResult,
} from '../../netmodel/conntrack/index.js';
import { ConntrackTable, CtStatus, formatConntrackList } from '../../netmodel/conntrack/index.js';
import type { Packet, TcpFlags } from '../../netmodel/packet.js';
import { ACK, FIN_ACK, packet, RST, SYN, SYN_ACK } from '../../netmodel/packet.js';
import { intBelow, SeededRng } from '../../netmodel/rng.js';
import { icmp, S, tcp, udp } from './builders.js';

/** Everything an entry holds that the table's behaviour or a listing depends on. */
function dump(e: ConntrackEntryView): string {
  const x = e as unknown as Record<string, unknown>;
  const t = (u: ConntrackEntryView['original']) =>
    `${u.family}/${u.proto} ${u.src.text}:${u.sport}>${u.dst.text}:${u.dport} ${u.icmpType ?? '-'}/${u.icmpCode ?? '-'}`;
  const c = e.counters;
  return [
    e.id,
    t(e.original),
    t(e.reply),
    e.status,
    e.mark,
    e.tcpState ?? '-',
    e.expiresAt,
    e.createdAt,
    c ? `${c.original.packets}/${c.original.bytes} ${c.reply.packets}/${c.reply.bytes}` : 'noacct',
    e.masqueradeDevice ?? '-',
    x.lastIndex,
    x.lastDir,
    x.closeInitOriginal,
    x.closeInitReply,
    x.simultaneousOpen,
    x.challengeAckExpected,
    x.pendingTimeout,
  ].join(' | ');
}

function resultText(r: CtResult): string {
  return r.kind === 'tracked'
    ? `tracked ${r.ctinfo} ${r.ctstate} ${r.dir} ${r.created} #${r.entry.id}`
    : `${r.kind} ${'ctstate' in r ? r.ctstate : ''} ${'reason' in r ? r.reason : ''}`;
}

function natText(r: NatSetupResult): string {
  return r.kind === 'mapped'
    ? `mapped ${r.changed} ${r.reply.src.text}:${r.reply.sport}>${r.reply.dst.text}:${r.reply.dport} ${r.evicted ? `evicted #${r.evicted.id}` : ''}`
    : `unchanged ${r.reason}`;
}

function table(t: ConntrackTable, now: number): string {
  const all = t.entries(Number.NEGATIVE_INFINITY);
  return `${formatConntrackList(all, now, { extended: true, id: true })}${all.map(dump).join('\n')}\n${t.size} ${JSON.stringify(t.statistics())}`;
}

const NODE = parseIP('192.168.0.10');
const ENDPOINTS = [parseIP('10.244.1.5'), parseIP('10.244.2.7')];
const FLAGS: readonly TcpFlags[] = [SYN, SYN_ACK, ACK, ACK, FIN_ACK, FIN_ACK, ACK, RST];

function reply(e: ConntrackEntryView, flags: TcpFlags | undefined): Packet {
  const r = e.reply;
  return packet({
    proto: r.proto,
    src: r.src,
    dst: r.dst,
    sport: r.sport,
    dport: r.dport,
    ...(r.proto === 'tcp' ? { tcp: flags ?? ACK } : {}),
  });
}

interface Twin {
  readonly a: ConntrackEntryView;
  readonly b: ConntrackEntryView;
  /** The clock reading the views were handed out at. */
  readonly at: number;
}

function run(seed: number, steps: number): { reused: number; kept: number } {
  const rng = new SeededRng(seed);
  const sysctls = { nf_conntrack_max: 400 };
  const a = new ConntrackTable({ sysctls });
  const b = new ConntrackTable({ sysctls, recycle: true });
  const rngA = new SeededRng(seed * 7 + 1);
  const rngB = new SeededRng(seed * 7 + 1);
  let now = 1_764_900_000_000;
  let maxNow = now;
  /** Views handed out, newest last: [plain, recycled]. */
  const views: Twin[] = [];
  /** Flows by their first packet: the plain table's entry (the recycled one's is compared through it). */
  const flows: Packet[] = [];
  const seenB = new WeakSet<object>();
  let reused = 0;
  const keep = (va: ConntrackEntryView, vb: ConntrackEntryView) => {
    views.push({ a: va, b: vb, at: now });
    if (views.length > 64) views.shift();
  };
  const both = (p: Packet): [CtResult, CtResult] => {
    const ra = a.process(p, now);
    const rb = b.process(p, now);
    expect(resultText(rb)).toBe(resultText(ra));
    if (ra.kind === 'tracked' && rb.kind === 'tracked') {
      if (rb.created) {
        if (seenB.has(rb.entry)) reused++;
        seenB.add(rb.entry);
      }
      keep(ra.entry, rb.entry);
    }
    return [ra, rb];
  };
  const nat = (ra: CtResult, rb: CtResult, manip: 'SRC' | 'DST', range: NatRange | undefined) => {
    if (ra.kind !== 'tracked' || rb.kind !== 'tracked') return;
    const ctx = (r: SeededRng) => ({ now, rng: r, ...(manip === 'SRC' ? { masqueradeDevice: 'eth0' } : {}) });
    const na = range
      ? a.setupNat(ra.entry, manip, range, ctx(rngA))
      : a.nullBinding(ra.entry, manip, ctx(rngA));
    const nb = range
      ? b.setupNat(rb.entry, manip, range, ctx(rngB))
      : b.nullBinding(rb.entry, manip, ctx(rngB));
    expect(natText(nb)).toBe(natText(na));
    if (na.kind === 'mapped' && nb.kind === 'mapped' && na.evicted && nb.evicted)
      keep(na.evicted, nb.evicted);
  };
  for (let i = 0; i < steps; i++) {
    const k = intBelow(rng, 40);
    if (k < 12 || flows.length === 0) {
      // A new flow (or a port coming back): few clients and ports, so tuples meet old entries.
      const c = `10.244.${intBelow(rng, 2)}.${1 + intBelow(rng, 6)}:${40000 + intBelow(rng, 60)}`;
      const kind = intBelow(rng, 8);
      const p =
        kind < 5
          ? tcp(c, '10.96.0.20:80', SYN)
          : kind < 7
            ? udp(c, '10.96.0.10:53')
            : icmp(c.split(':')[0]!, '10.96.0.30', 8, intBelow(rng, 20));
      flows.push(p);
      if (flows.length > 200) flows.shift();
      const [ra, rb] = both(p);
      if (ra.kind === 'tracked' && rb.kind === 'tracked' && ra.created) {
        const how = intBelow(rng, 10);
        if (how < 6) {
          const ep = ENDPOINTS[intBelow(rng, 2)]!;
          nat(ra, rb, 'DST', { minAddr: ep, maxAddr: ep, minPort: 8080, maxPort: 8080 });
        } else if (how === 6) nat(ra, rb, 'DST', undefined);
        else if (how === 7) {
          // IPVS with net.ipv4.vs.conntrack: the reply comes from the real server.
          const r = ra.entry.reply;
          const to = { ...r, src: ENDPOINTS[0]!, sport: 9090 };
          expect(b.alterReply(rb.entry, { ...to })).toBe(a.alterReply(ra.entry, to));
        }
        const snat = intBelow(rng, 4);
        if (snat === 0) nat(ra, rb, 'SRC', { minAddr: NODE, maxAddr: NODE, randomFully: true });
        else if (snat === 1)
          // A plain port range: a source outside it reads the by-source index (find_appropriate_src).
          nat(ra, rb, 'SRC', { minAddr: NODE, maxAddr: NODE, minPort: 40010, maxPort: 40030 });
        else if (snat === 2) nat(ra, rb, 'SRC', undefined);
        // Most confirm; some die unconfirmed (a drop before POSTROUTING), some are deleted first.
        const fate = intBelow(rng, 12);
        if (fate === 0) {
          expect(b.deleteTuple(rb.entry.original, now)).toBe(a.deleteTuple(ra.entry.original, now));
        }
        if (fate !== 1) {
          const ca = a.confirm(ra.entry, now);
          const cb = b.confirm(rb.entry, now);
          expect(`${cb.kind} ${cb.kind === 'drop' ? cb.reason : cb.entry.id}`).toBe(
            `${ca.kind} ${ca.kind === 'drop' ? ca.reason : ca.entry.id}`,
          );
        }
      }
    } else if (k < 34) {
      // A packet of a known flow, either way: the plain table's entry says where replies go.
      const p = flows[intBelow(rng, flows.length)]!;
      const found = a.lookup(p, now);
      const fb = b.lookup(p, now);
      expect(fb?.entry.id).toBe(found?.entry.id);
      const back = intBelow(rng, 2) === 0 && found !== undefined;
      const flags = FLAGS[intBelow(rng, FLAGS.length)]!;
      let q: Packet;
      if (back) q = reply(found.entry, flags);
      else if (p.proto === 'tcp') q = tcp(`${p.src.text}:${p.sport}`, `${p.dst.text}:${p.dport}`, flags);
      else q = p;
      both(q);
      if (intBelow(rng, 30) === 0 && found && fb) {
        b.setMark(fb.entry, 7 + i);
        a.setMark(found.entry, 7 + i);
      }
    } else if (k < 36) {
      const p = flows[intBelow(rng, flows.length)]!;
      const t =
        p.proto === 'icmp'
          ? {
              family: p.family,
              proto: p.proto,
              src: p.src,
              dst: p.dst,
              sport: p.icmp!.id,
              dport: 0,
              icmpType: 8,
              icmpCode: 0,
            }
          : { family: p.family, proto: p.proto, src: p.src, dst: p.dst, sport: p.sport, dport: p.dport };
      expect(b.deleteTuple(t, now)).toBe(a.deleteTuple(t, now));
    } else if (k === 36) {
      const f = intBelow(rng, 2) === 0 ? { proto: 'udp' as const } : { proto: 'tcp' as const, dport: 80 };
      expect(b.delete(f, now)).toBe(a.delete(f, now));
    } else if (k === 37 && intBelow(rng, 8) === 0) {
      expect(b.flush()).toBe(a.flush());
    } else if (k === 38 && intBelow(rng, 4) === 0) {
      const acct = intBelow(rng, 2) === 0 ? 0 : 1;
      a.setSysctls({ nf_conntrack_acct: acct });
      b.setSysctls({ nf_conntrack_acct: acct });
    } else {
      expect(b.gc(now)).toBe(a.gc(now));
    }
    // The clock: often not at all (a reuse must wait for a later reading), small steps, timeouts, back.
    const j = intBelow(rng, 100);
    if (j < 30) {
      // same reading
    } else if (j < 80) now += 1 + intBelow(rng, 300);
    else if (j < 95) now += intBelow(rng, 40) * S;
    else if (j < 98) now += intBelow(rng, 200) * S;
    else now -= intBelow(rng, 100) * S;
    if (now > maxNow) maxNow = now;
    expect(b.size).toBe(a.size);
    expect(b.statistics()).toEqual(a.statistics());
    if (i % 16 !== 0) continue;
    expect(table(b, now)).toBe(table(a, now));
    // Views handed out earlier: a reused entry has a new id; while the id holds, the flow is the old one.
    for (const v of views) {
      if (v.b.id === v.a.id) expect(dump(v.b)).toBe(dump(v.a));
      else expect(v.at).toBeLessThan(maxNow);
    }
  }
  return { reused, kept: (b as unknown as { free: { length: number } }).free.length };
}

describe('conntrack entry recycling', () => {
  it('a recycling table behaves exactly as a plain one, and no kept view sees a reused entry as its old flow', () => {
    let reused = 0;
    for (const seed of [1, 2, 3, 4]) reused += run(seed, 5000).reused;
    // The test exercises reuse: thousands of new flows were made of dead entries.
    expect(reused).toBeGreaterThan(2000);
  });

  it('the proxy runtime pattern: ports come back in TIME_WAIT, entries are reused, nothing grows', () => {
    const t = new ConntrackTable({ recycle: true });
    let now = 1_764_900_000_000;
    const made = new Set<object>();
    for (let i = 0; i < 30_000; i++) {
      const c = `10.244.0.5:${1024 + (i % 5_000)}`;
      const syn = tcp(c, '10.96.0.20:80', SYN);
      const r = t.process(syn, now);
      if (r.kind !== 'tracked') throw new Error('not tracked');
      made.add(r.entry);
      t.setupNat(
        r.entry,
        'DST',
        { minAddr: ENDPOINTS[0]!, maxAddr: ENDPOINTS[0]!, minPort: 8080, maxPort: 8080 },
        {
          now,
          rng: new SeededRng(i),
        },
      );
      expect(t.confirm(r.entry, now).kind).toBe('confirmed');
      const e = r.entry;
      t.process(reply(e, SYN_ACK), now);
      t.process(tcp(c, '10.96.0.20:80', ACK), now);
      t.process(tcp(c, '10.96.0.20:80', FIN_ACK), now);
      t.process(reply(e, FIN_ACK), now);
      t.process(tcp(c, '10.96.0.20:80', ACK), now);
      expect(e.tcpState).toBe('TIME_WAIT');
      expect(e.reply.src.text).toBe('10.244.1.5');
      now += 5; // 5,000 ports in 25 s: each SYN reopens its port's TIME_WAIT entry
      if (i % 1000 === 0) t.gc(now);
    }
    expect(t.size).toBe(5_000);
    // 5,000 in the table, a few free: every later connection was an entry reused, not a new one.
    expect(made.size).toBeLessThan(5_000 + 10);
    now += 121 * S;
    expect(t.gc(now)).toBe(5_000);
    expect(t.size).toBe(0);
    // The burst's dead entries are trimmed to FREE_MIN by the next gc once the table is empty.
    t.gc(now + 1);
    expect((t as unknown as { free: { length: number } }).free.length).toBeLessThanOrEqual(1024);
  });
});

describe('NAT bindings after an ICMP flow, recycling or not', () => {
  it('a TCP DNAT to its own address changes nothing, after an ICMP flow was bound', () => {
    for (const recycle of [false, true]) {
      const t = new ConntrackTable({ recycle });
      const now = 1_764_900_000_000;
      const ping = t.process(icmp('10.244.0.5', '10.96.0.30', 8, 7), now);
      if (ping.kind !== 'tracked') throw new Error('not tracked');
      const ctx = { now, rng: new SeededRng(1) };
      t.setupNat(ping.entry, 'DST', { minAddr: ENDPOINTS[0]!, maxAddr: ENDPOINTS[0]! }, ctx);
      t.confirm(ping.entry, now);
      // A TCP flow DNATed to its own destination: the base candidate is the tuple itself, so nothing
      // changes (the kernel sets no IPS_DST_NAT), and then to another address.
      const syn = t.process(tcp('10.244.0.5:40000', '10.96.0.20:80', SYN), now);
      if (syn.kind !== 'tracked') throw new Error('not tracked');
      const self = parseIP('10.96.0.20');
      const d = t.setupNat(syn.entry, 'DST', { minAddr: self, maxAddr: self }, ctx);
      expect(d.kind === 'mapped' && d.changed).toBe(false);
      expect(syn.entry.status & CtStatus.DST_NAT).toBe(0);
      const syn2 = t.process(tcp('10.244.0.5:40001', '10.96.0.20:80', SYN), now);
      if (syn2.kind !== 'tracked') throw new Error('not tracked');
      const d2 = t.setupNat(syn2.entry, 'DST', { minAddr: ENDPOINTS[1]!, maxAddr: ENDPOINTS[1]! }, ctx);
      expect(d2.kind === 'mapped' && d2.changed).toBe(true);
      expect(syn2.entry.status & CtStatus.DST_NAT).toBe(CtStatus.DST_NAT);
      expect(syn2.entry.reply.src.text).toBe('10.244.2.7');
      expect(syn2.entry.reply.sport).toBe(80);
    }
  });
});
