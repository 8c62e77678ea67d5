/**
 * SNAT port reuse against closing TCP entries (Linux 6.5+, net/netfilter/nf_nat_core.c
 * nf_nat_used_tuple_harder, "netfilter: snat: evict closing tcp entries on reply tuple collision"):
 * in the last NF_NAT_HARDER_THRESH = 128/4 = 32 attempts of each port-search window, a candidate
 * held by an SNAT'd entry in TIME_WAIT (or a later state) is freed by killing that entry, if the new
 * originator's sequence number has advanced past the old one's ((s32)(new td_end - old td_end) > 0).
 * Never for ESTABLISHED holders, never for UDP, never while more than 32 attempts are left.
 */
import { describe, expect, it } from 'vitest';
import { parseIP } from '../../netmodel/addr.js';
import type { ConntrackEntryView, NatRange } from '../../netmodel/conntrack/index.js';
import { ConntrackTable, formatConntrackList, translate } from '../../netmodel/conntrack/index.js';
import type { SeqSource } from '../../netmodel/conntrack/tcp-seq.js';
import { isnClock, originatorSeqEnd, seqHasAdvanced } from '../../netmodel/conntrack/tcp-seq.js';
import type { Packet, TcpFlags } from '../../netmodel/packet.js';
import { ACK, FIN_ACK, SYN, SYN_ACK } from '../../netmodel/packet.js';
import type { Rng } from '../../netmodel/rng.js';
import { S, tcp, udp } from './builders.js';
import { fixedRng } from './flow.js';

const ip = parseIP;
const NAT_IP = '10.1.1.1';
const SERVER = '192.0.2.10:80';
/** The table's ISN secret in these tests (any fixed number). */
const SECRET = 7;

function range(lo: number, hi = lo): NatRange {
  return { minAddr: ip(NAT_IP), maxAddr: ip(NAT_IP), minPort: lo, maxPort: hi };
}

/** The first packet of a flow with SNAT at POSTROUTING (a null DNAT binding first), then confirm. */
function open(table: ConntrackTable, p: Packet, now: number, snat: NatRange, rng: Rng = fixedRng(0)) {
  const r = table.process(p, now);
  if (r.kind !== 'tracked') throw new Error(`not tracked: ${r.kind}`);
  table.nullBinding(r.entry, 'DST', { now, rng });
  const nat = table.setupNat(r.entry, 'SRC', snat, { now, rng });
  const confirm = table.confirm(r.entry, now);
  return { entry: r.entry, nat, confirm, out: translate(r.entry, 'ORIGINAL', p) };
}

/** Packet `p` as the node's conntrack sees it, in either direction. */
function send(table: ConntrackTable, from: string, to: string, flags: TcpFlags, now: number): void {
  const r = table.process(tcp(from, to, flags), now);
  if (r.kind !== 'tracked') throw new Error(`not tracked: ${from} -> ${to}`);
}

/** A full connection through SNAT, closed by the client: its entry ends in TIME_WAIT. */
function timeWait(table: ConntrackTable, client: string, port: number, now: number): ConntrackEntryView {
  const { entry, out } = open(table, tcp(client, SERVER, SYN), now, range(port));
  expect(out.sport).toBe(port);
  const natted = `${NAT_IP}:${port}`;
  send(table, SERVER, natted, SYN_ACK, now + 1);
  send(table, client, SERVER, ACK, now + 2);
  send(table, client, SERVER, FIN_ACK, now + 3);
  send(table, SERVER, natted, FIN_ACK, now + 4);
  send(table, client, SERVER, ACK, now + 5);
  expect(entry.tcpState).toBe('TIME_WAIT');
  return entry;
}

function established(table: ConntrackTable, client: string, port: number, now: number): ConntrackEntryView {
  const { entry } = open(table, tcp(client, SERVER, SYN), now, range(port));
  send(table, SERVER, `${NAT_IP}:${port}`, SYN_ACK, now + 1);
  send(table, client, SERVER, ACK, now + 2);
  expect(entry.tcpState).toBe('ESTABLISHED');
  return entry;
}

/** td_end of the SYN a client would open at `now` (an unconfirmed probe entry in a scratch table). */
function synEnd(client: string, now: number): number {
  const scratch = new ConntrackTable({ isnSecret: SECRET });
  const r = scratch.process(tcp(client, SERVER, SYN), now);
  if (r.kind !== 'tracked') throw new Error('x');
  return tdEnd(r.entry);
}

/** seen[0].td_end of an entry (table entries are CtEntry objects, which carry the TCP flags). */
function tdEnd(e: ConntrackEntryView): number {
  return originatorSeqEnd(e as unknown as SeqSource, SECRET);
}

describe('the sequence-number model (secure_tcp_seq, nf_seq_has_advanced)', () => {
  it('the clock part counts 64 ns units: 1 s is 10^9 >> 6 = 15625000', () => {
    expect(isnClock(1000)).toBe(15625000);
    expect(isnClock(0)).toBe(0);
    // 2^32 units of 64 ns is 274.877906944 s: the clock part wraps.
    expect(isnClock(274877906.944 * 1000 + 1)).toBe(isnClock(1));
  });

  it('has advanced: signed 32-bit difference, across the wrap', () => {
    expect(seqHasAdvanced(0xffffffff, 1)).toBe(true);
    expect(seqHasAdvanced(1, 0xffffffff)).toBe(false);
    expect(seqHasAdvanced(5, 5)).toBe(false);
    expect(seqHasAdvanced(0, 0x7fffffff)).toBe(true);
    // Exactly 2^31 ahead is (s32)-2^31: not advanced.
    expect(seqHasAdvanced(0, 0x80000000)).toBe(false);
  });

  it('one 4-tuple: only the clock differs, so a SYN 60 s later has advanced and one 150 s later has not', () => {
    const c = '10.0.0.5:40000';
    const t0 = synEnd(c, 0);
    // 60 s = 937,500,000 units: less than 2^31.
    expect((synEnd(c, 60 * S) - t0 + 2 ** 32) % 2 ** 32).toBe(937500000);
    expect(seqHasAdvanced(t0, synEnd(c, 60 * S))).toBe(true);
    // 150 s = 2,343,750,000 units: more than 2^31, so (s32) negative.
    expect(seqHasAdvanced(t0, synEnd(c, 150 * S))).toBe(false);
  });
});

describe('SNAT eviction of closing TCP entries (nf_nat_used_tuple_harder)', () => {
  const T = 10 * S;

  /** A client port (on 10.0.0.9) whose SYN at T has / has not advanced past each holder. */
  function findClient(holders: readonly ConntrackEntryView[], want: readonly boolean[]): string {
    for (let port = 50000; port < 60000; port++) {
      const c = `10.0.0.9:${port}`;
      const end = synEnd(c, T);
      if (holders.every((h, i) => seqHasAdvanced(tdEnd(h), end) === want[i])) return c;
    }
    throw new Error('no such client');
  }

  it('2-port range, both held by TIME_WAIT: the first candidate whose holder is behind is evicted', () => {
    const table = new ConntrackTable({ isnSecret: SECRET });
    const a = timeWait(table, '10.0.0.5:40001', 1000, 0);
    const b = timeWait(table, '10.0.0.6:40002', 1001, 0);
    // off = 0: the search tries 1000 (2 attempts left), then 1001 (1 left); both <= 32.
    const client = findClient([a, b], [false, true]);
    const { entry, nat, confirm, out } = open(table, tcp(client, SERVER, SYN), T, range(1000, 1001));
    expect(nat.kind === 'mapped' && nat.evicted?.id).toBe(b.id);
    expect(confirm.kind).toBe('confirmed');
    expect(out.sport).toBe(1001);
    // conntrack -L: the holder of 1000 stays in TIME_WAIT; 1001 now belongs to the new SYN.
    const list = formatConntrackList(table.entries(T), T);
    expect(list).toBe(
      'tcp      6 110 TIME_WAIT src=10.0.0.5 dst=192.0.2.10 sport=40001 dport=80 src=192.0.2.10 dst=10.1.1.1 sport=80 dport=1000 [ASSURED] mark=0 use=1\n' +
        `tcp      6 120 SYN_SENT src=10.0.0.9 dst=192.0.2.10 sport=${client.split(':')[1]} dport=80 [UNREPLIED] src=192.0.2.10 dst=10.1.1.1 sport=80 dport=1001 mark=0 use=1\n`,
    );
    // nf_ct_kill counts in no `conntrack -S` counter.
    expect(table.statistics().insertFailed).toBe(0);
    expect(table.statistics().earlyDrop).toBe(0);
    // The SYN-ACK to 10.1.1.1:1001 now reaches the new client.
    const back = table.lookup(tcp(SERVER, `${NAT_IP}:1001`, SYN_ACK), T + 1);
    expect(back?.entry.id).toBe(entry.id);
  });

  it('2-port range, both TIME_WAIT holders ahead of the new SYN: nothing is evicted, the SYN fails to confirm', () => {
    const table = new ConntrackTable({ isnSecret: SECRET });
    const a = timeWait(table, '10.0.0.5:40001', 1000, 0);
    const b = timeWait(table, '10.0.0.6:40002', 1001, 0);
    const client = findClient([a, b], [false, false]);
    const { nat, confirm } = open(table, tcp(client, SERVER, SYN), T, range(1000, 1001));
    expect(nat.kind === 'mapped' && nat.evicted).toBeUndefined();
    expect(confirm.kind).toBe('drop');
    expect(table.statistics().insertFailed).toBe(1);
    expect(table.entries(T).map((e) => e.id)).toEqual([a.id, b.id]);
  });

  it('ESTABLISHED holders are never evicted, whatever the sequence numbers', () => {
    const table = new ConntrackTable({ isnSecret: SECRET });
    const a = established(table, '10.0.0.5:40001', 1000, 0);
    const b = established(table, '10.0.0.6:40002', 1001, 0);
    let behind = 0;
    for (let port = 50000; port < 50040; port++) {
      const c = `10.0.0.9:${port}`;
      if (seqHasAdvanced(tdEnd(a), synEnd(c, T)) || seqHasAdvanced(tdEnd(b), synEnd(c, T))) behind++;
      const { nat, confirm } = open(table, tcp(c, SERVER, SYN), T, range(1000, 1001));
      expect(nat.kind === 'mapped' && nat.evicted).toBeUndefined();
      expect(confirm.kind).toBe('drop');
    }
    // The sequence test alone would have let some through.
    expect(behind).toBeGreaterThan(0);
    expect(table.entries(T).map((e) => e.tcpState)).toEqual(['ESTABLISHED', 'ESTABLISHED']);
  });

  it('UDP is never evicted', () => {
    const table = new ConntrackTable({ isnSecret: SECRET });
    open(table, udp('10.0.0.5:40001', SERVER), 0, range(1000));
    open(table, udp('10.0.0.6:40002', SERVER), 0, range(1001));
    const { nat, confirm } = open(table, udp('10.0.0.9:50000', SERVER), 1, range(1000, 1001));
    expect(nat.kind === 'mapped' && nat.evicted).toBeUndefined();
    expect(confirm.kind).toBe('drop');
    expect(table.size).toBe(2);
  });

  it('a 200-port range full of TIME_WAIT: the first 96 candidates (attempts left > 32) never evict', () => {
    const table = new ConntrackTable({
      isnSecret: SECRET,
      sysctls: { nf_conntrack_tcp_timeout_time_wait: 300 },
    });
    const holders: ConntrackEntryView[] = [];
    for (let i = 0; i < 200; i++)
      holders.push(timeWait(table, `10.0.${1 + (i >> 8)}.${i & 255}:40000`, 1000 + i, 0));
    const client = '10.0.9.9:55555';
    const end = synEnd(client, T);
    const behind = holders.map((h) => seqHasAdvanced(tdEnd(h), end));
    // With off = 0 the candidates run 1000, 1001, ...: candidate i has 128 - i attempts left.
    const expected = behind.findIndex((b, i) => b && i >= 96 && i < 128);
    expect(expected).toBeGreaterThanOrEqual(96);
    // Holders the sequence test would have allowed exist among the first 96: they stay.
    expect(behind.slice(0, 96).filter(Boolean).length).toBeGreaterThan(0);
    const { nat, confirm, out } = open(table, tcp(client, SERVER, SYN), T, range(1000, 1199));
    expect(confirm.kind).toBe('confirmed');
    expect(out.sport).toBe(1000 + expected);
    expect(nat.kind === 'mapped' && nat.evicted?.id).toBe(holders[expected]!.id);
    expect(table.size).toBe(200);
  });

  it('a holder that is not SNAT-ed (a local socket on the NAT address) is not evicted', () => {
    const table = new ConntrackTable({ isnSecret: SECRET });
    // The node itself connects from 10.1.1.1:1000 without NAT, and closes.
    const local = `${NAT_IP}:1000`;
    const r = table.process(tcp(local, SERVER, SYN), 0);
    if (r.kind !== 'tracked') throw new Error('x');
    table.nullBinding(r.entry, 'DST', { now: 0, rng: fixedRng(0) });
    table.nullBinding(r.entry, 'SRC', { now: 0, rng: fixedRng(0) });
    table.confirm(r.entry, 0);
    for (const [from, to, f] of [
      [SERVER, local, SYN_ACK],
      [local, SERVER, ACK],
      [local, SERVER, FIN_ACK],
      [SERVER, local, FIN_ACK],
      [local, SERVER, ACK],
    ] as const)
      send(table, from, to, f, 1);
    expect(r.entry.tcpState).toBe('TIME_WAIT');
    let tried = 0;
    for (let port = 50000; port < 50010; port++) {
      const c = `10.0.0.9:${port}`;
      if (seqHasAdvanced(tdEnd(r.entry), synEnd(c, T))) tried++;
      const { confirm } = open(table, tcp(c, SERVER, SYN), T, range(1000));
      expect(confirm.kind).toBe('drop');
    }
    expect(tried).toBeGreaterThan(0);
    expect(table.size).toBe(1);
  });
});
