// The runtime's iptables mode walks each connection's later packets (SYN-ACK, the handshake's ACK,
// FIN, FIN-ACK, ACK) with one reused packet object (proxy/runtime/modes/iptables.ts). The node must
// end exactly as walking a fresh packet for each leaves it: the same conntrack listing and
// statistics, the same rule counters, with connections interleaved and from both kinds of client.
import { describe, expect, it } from 'vitest';
import { type IP, parseIP } from '../../netmodel/addr.js';
import { buildCluster } from '../../netmodel/cluster/index.js';
import { formatConntrackList } from '../../netmodel/conntrack/index.js';
import { receive, send, type WalkEnv } from '../../netmodel/kernel/index.js';
import { renderSave } from '../../netmodel/netfilter/index.js';
import { ACK, FIN_ACK, type Packet, packet, SYN, SYN_ACK, withTcp } from '../../netmodel/packet.js';
import { SeededRng } from '../../netmodel/rng.js';
import { ClusterDatapath } from '../../proxy/datapath.js';
import { IptablesMode } from '../../proxy/runtime/modes/iptables.js';
import type { Decision, FlowRequest } from '../../proxy/runtime/modes/types.js';

const YAML = `apiVersion: v1
kind: Node
metadata: {name: n1}
status: {addresses: [{type: InternalIP, address: 10.240.0.11}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: 10.96.0.80
  ports: [{name: http, port: 80, targetPort: 8080}, {name: dns, port: 53, targetPort: 5353, protocol: UDP}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: web, namespace: default}
subsets: [{addresses: [{ip: 10.244.0.9}], ports: [{name: http, port: 8080}, {name: dns, port: 5353, protocol: UDP}]}]
`;

/** The walks of decide + completeHandshake + closed as they were written with a new packet each. */
class Reference {
  constructor(
    private readonly dp: ClusterDatapath,
    private readonly env: () => WalkEnv,
  ) {}

  private walk(p: Packet, nodeProcess: boolean) {
    const node = this.dp.node('n1');
    if (nodeProcess || node.isLocal(p.src)) return send(node, p, this.env());
    return receive(node, p, this.dp.network.ingressFor('n1', p.src), this.env());
  }

  open(f: FlowRequest): void {
    const proto = f.protocol === 'TCP' ? 'tcp' : 'udp';
    const syn = packet({
      proto,
      src: f.client.ip,
      dst: f.destination.ip,
      sport: f.client.port,
      dport: f.destination.port,
      tcp: SYN,
    });
    const r = this.walk(syn, f.clientIsNodeProcess);
    const rep = r.ct!.reply;
    this.walk(
      packet({
        proto: rep.proto,
        src: rep.src,
        dst: rep.dst,
        sport: rep.sport,
        dport: rep.dport,
        tcp: SYN_ACK,
      }),
      false,
    );
    if (proto === 'tcp') this.walk(withTcp(r.input, ACK), f.clientIsNodeProcess);
  }

  close(f: FlowRequest): void {
    const fin = packet({
      proto: 'tcp',
      src: f.client.ip,
      dst: f.destination.ip,
      sport: f.client.port,
      dport: f.destination.port,
      tcp: FIN_ACK,
    });
    const found = this.dp.node('n1').conntrack.lookup(fin, this.env().now);
    if (found?.dir !== 'ORIGINAL') return;
    this.walk(fin, f.clientIsNodeProcess);
    const rep = found.entry.reply;
    this.walk(
      packet({
        proto: rep.proto,
        src: rep.src,
        dst: rep.dst,
        sport: rep.sport,
        dport: rep.dport,
        tcp: FIN_ACK,
      }),
      false,
    );
    this.walk(withTcp(fin, ACK), f.clientIsNodeProcess);
  }
}

function flow(client: IP, port: number, nodeProcess: boolean, udp = false): FlowRequest {
  return {
    protocol: udp ? 'UDP' : 'TCP',
    client: { ip: client, port },
    clientIsNodeProcess: nodeProcess,
    destination: { ip: parseIP('10.96.0.80'), port: udp ? 53 : 80 },
    entryNode: 'n1',
    entry: 'ClusterIP',
    servicePort: udp ? 'default/web:dns' : 'default/web:http',
  };
}

describe("iptables mode's walks with one reused step packet", () => {
  it('leave conntrack, its statistics and every rule counter as fresh packets do', () => {
    const built = buildCluster([{ file: 'c.yaml', text: YAML }]);
    if (!built.ok) throw new Error(built.diagnostics.map((d) => d.message).join('; '));
    const snap = built.snapshot;
    let now = 1_764_900_000_000;
    const clock = { now: () => now };
    const mode = new IptablesMode({ clock, rng: new SeededRng(5) });
    mode.sync(snap);
    const refRng = new SeededRng(5);
    const refDp = ClusterDatapath.build(snap, { mode: 'iptables', now });
    const ref = new Reference(refDp, () => ({ now, rng: refRng, noStages: true }));
    // Per-direction packet counts in the listing: a step walked in the wrong direction shows.
    for (const dp of [mode.datapath()!, refDp]) dp.node('n1').conntrack.setSysctls({ nf_conntrack_acct: 1 });

    const outside = parseIP('10.0.0.1');
    const nodeIP = parseIP('10.240.0.11');
    const rng = new SeededRng(9);
    const open: FlowRequest[] = [];
    const decided = new Map<FlowRequest, Decision>();
    let port = 40000;
    for (let i = 0; i < 400; i++) {
      now += 7;
      // Open a new flow, or close one of the open ones (in any order): steps interleave.
      if (open.length === 0 || rng.uint32() % 3 !== 0) {
        const kind = rng.uint32() % 4;
        const f = flow(kind === 0 ? nodeIP : outside, port++, kind === 0, kind === 3);
        const d = mode.decide(f, 0);
        expect(d.kind).toBe('forward');
        ref.open(f);
        if (f.protocol === 'TCP') open.push(f);
        decided.set(f, d);
      } else {
        const f = open.splice(rng.uint32() % open.length, 1)[0]!;
        mode.closed(f, decided.get(f) as Extract<Decision, { kind: 'forward' }>);
        ref.close(f);
      }
    }
    const got = mode.datapath()!.node('n1');
    const want = refDp.node('n1');
    expect(got.conntrack.size).toBeGreaterThan(200);
    expect(formatConntrackList(got.conntrack.entries(now), now)).toBe(
      formatConntrackList(want.conntrack.entries(now), now),
    );
    expect(got.conntrack.statistics()).toEqual(want.conntrack.statistics());
    expect(renderSave(got.rules(4), { counters: true })).toBe(renderSave(want.rules(4), { counters: true }));
    // Entries in every state the steps lead to: established (open) and closed (TIME_WAIT).
    const listing = formatConntrackList(got.conntrack.entries(now), now);
    expect(listing).toContain('ESTABLISHED');
    expect(listing).toContain('TIME_WAIT');
    // A closed connection: SYN, ACK, FIN, ACK from the client; SYN-ACK, FIN-ACK from the endpoint.
    expect(listing).toMatch(
      /TIME_WAIT src=10\.0\.0\.1 .* packets=4 bytes=240 src=10\.244\.0\.9 .* packets=2 bytes=120 \[ASSURED\]/,
    );
  });
});
