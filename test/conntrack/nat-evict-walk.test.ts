/**
 * The walker with SNAT port reuse (Linux 6.5+ nf_nat_used_tuple_harder): pods SNAT'd toward one
 * server with `--to-source 10.0.0.11:1000-1001`; the walker passes the whole range to conntrack, so
 * each SYN's search tries both ports (2 and 1 attempts left, under the threshold of 32). Once both
 * ports are held by TIME_WAIT entries, a new SYN either evicts a holder (the trace says which) or
 * fails to confirm, depending on the sequence numbers.
 */
import { describe, expect, it } from 'vitest';
import { renderTraceText } from '../../cli/format/trace.js';
import { parseIP } from '../../netmodel/addr.js';
import { KernelNode, receive } from '../../netmodel/kernel/index.js';
import type { TcpFlags } from '../../netmodel/packet.js';
import { ACK, FIN_ACK, packet, SYN, SYN_ACK } from '../../netmodel/packet.js';
import { SeededRng } from '../../netmodel/rng.js';
import { outcomeJson } from '../../netmodel/trace/report.js';

function node(): KernelNode {
  const n = new KernelNode({ name: 'worker-1' });
  n.routing.addInterface({ name: 'eth0', kind: 'ethernet', up: true });
  n.routing.addAddress('eth0', '10.0.0.11/24');
  n.routing.addInterface({ name: 'cni0', kind: 'bridge', up: true });
  n.routing.addAddress('cni0', '10.244.1.1/24');
  n.routing.addRoute({ dst: 'default', via: '10.0.0.1', dev: 'eth0' });
  n.restore(
    [
      '*nat',
      ':PREROUTING ACCEPT [0:0]',
      ':INPUT ACCEPT [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      ':POSTROUTING ACCEPT [0:0]',
      '-A POSTROUTING -s 10.244.1.0/24 -o eth0 -p tcp -j SNAT --to-source 10.0.0.11:1000-1001',
      'COMMIT',
      '',
    ].join('\n'),
  );
  return n;
}

const SERVER = parseIP('192.0.2.10');
const pkt = (src: string, sport: number, dst: string, dport: number, tcp: TcpFlags) =>
  packet({ proto: 'tcp', src: parseIP(src), dst: parseIP(dst), sport, dport, tcp });

describe('the walker and SNAT eviction', () => {
  it('a new SYN takes a port from a TIME_WAIT entry, and the trace says which entry went', () => {
    const n = node();
    const env = (now: number, seed = 1) => ({ now, rng: new SeededRng(seed), trace: true });
    // Two pods connect, each gets one of the two ports, and close: both entries in TIME_WAIT.
    const ports: number[] = [];
    for (const [i, pod] of ['10.244.1.5', '10.244.1.6'].entries()) {
      const r = receive(n, pkt(pod, 40000, SERVER.text, 80, SYN), 'cni0', env(i, i + 1));
      if (r.outcome.kind !== 'sent') throw new Error(`not sent: ${r.outcome.kind}`);
      const port = r.outcome.packet.sport;
      ports.push(port);
      const steps: [boolean, TcpFlags][] = [
        [false, SYN_ACK],
        [true, ACK],
        [true, FIN_ACK],
        [false, FIN_ACK],
        [true, ACK],
      ];
      for (const [fromPod, f] of steps) {
        const p = fromPod ? pkt(pod, 40000, SERVER.text, 80, f) : pkt(SERVER.text, 80, '10.0.0.11', port, f);
        const s = receive(n, p, fromPod ? 'cni0' : 'eth0', env(i + 1));
        expect(s.outcome.kind).toBe('sent');
      }
    }
    expect(ports.sort()).toEqual([1000, 1001]);
    expect(n.conntrack.entries(10).map((e) => e.tcpState)).toEqual(['TIME_WAIT', 'TIME_WAIT']);

    // New pods' SYNs at 10 s: some evict a holder (about half, by sequence number), the rest drop.
    let evicted = 0;
    let dropped = 0;
    for (let k = 0; k < 12; k++) {
      const before = n.conntrack.entries(10_000).map((e) => e.id);
      const r = receive(
        n,
        pkt(`10.244.1.${20 + k}`, 50000, SERVER.text, 80, SYN),
        'cni0',
        env(10_000, 7 + k),
      );
      const stage = r.stages.find((s) => s.kind === 'nat' && s.hook === 'POSTROUTING');
      const note = stage?.kind === 'nat' ? stage.note : undefined;
      if (r.outcome.kind === 'sent') {
        // A port was freed: the trace names the entry that went, and it is gone from the table.
        expect(note).toMatch(/^port 100[01] was held by closing conntrack entry \d+ \(TIME_WAIT\): evicted/);
        const id = Number(/entry (\d+)/.exec(note ?? '')![1]);
        expect(before).toContain(id);
        const after = n.conntrack.entries(10_000);
        expect(after.map((e) => e.id)).not.toContain(id);
        const json = outcomeJson(r, 1, 10_000);
        expect(json.hops.some((h) => h.kind === 'nat' && h.note === note)).toBe(true);
        const text = renderTraceText({
          nodeName: n.name,
          packet: r.input,
          entry: 'from cni0',
          outcomes: [{ json, walk: r }],
          total: 1,
        });
        expect(text).toContain(`               ${note}\n`);
        evicted++;
        // The new entry holds the port in SYN_SENT; close it to TIME_WAIT again for the next round.
        const port = r.outcome.packet.sport;
        expect([1000, 1001]).toContain(port);
        const pod = `10.244.1.${20 + k}`;
        for (const [fromPod, f] of [
          [false, SYN_ACK],
          [true, ACK],
          [true, FIN_ACK],
          [false, FIN_ACK],
          [true, ACK],
        ] as const) {
          const p = fromPod
            ? pkt(pod, 50000, SERVER.text, 80, f)
            : pkt(SERVER.text, 80, '10.0.0.11', port, f);
          expect(receive(n, p, fromPod ? 'cni0' : 'eth0', env(10_000)).outcome.kind).toBe('sent');
        }
      } else {
        expect(note).toBeUndefined();
        expect(n.conntrack.entries(10_000).map((e) => e.id)).toEqual(before);
        dropped++;
      }
      expect(n.conntrack.entries(10_000).filter((e) => e.tcpState === 'TIME_WAIT')).toHaveLength(2);
    }
    expect(evicted).toBeGreaterThan(0);
    expect(dropped).toBeGreaterThan(0);
  });

  it('the whole --to-source port range is searched: a second flow always gets the free port', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const n = node();
      const env = { now: 0, rng: new SeededRng(seed), trace: true };
      const a = receive(n, pkt('10.244.1.5', 40000, SERVER.text, 80, SYN), 'cni0', env);
      const b = receive(n, pkt('10.244.1.6', 40000, SERVER.text, 80, SYN), 'cni0', env);
      if (a.outcome.kind !== 'sent' || b.outcome.kind !== 'sent') throw new Error('a SYN was dropped');
      expect([a.outcome.packet.sport, b.outcome.packet.sport].sort()).toEqual([1000, 1001]);
    }
  });
});
