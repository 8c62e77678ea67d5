// The runtime's kernel modes walk a closed connection's FIN, FIN-ACK and ACK in a batch: closed()
// queues them with the clock reading of the close, and they run from setImmediate or, first, in
// whatever reads or changes the emulated tables next (proxy/runtime/modes/iptables.ts). The node must
// end exactly as walking each close at once leaves it, however late the batch runs.
import { describe, expect, it } from 'vitest';
import { type IP, parseIP } from '../../netmodel/addr.js';
import { buildCluster, type ClusterSnapshot } from '../../netmodel/cluster/index.js';
import { formatConntrackList } from '../../netmodel/conntrack/index.js';
import { renderSave } from '../../netmodel/netfilter/index.js';
import { SeededRng } from '../../netmodel/rng.js';
import { programIpvs } from '../../proxy/ipvs/index.js';
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
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: web, namespace: default}
subsets: [{addresses: [{ip: 10.244.0.9}], ports: [{name: http, port: 8080}]}]
`;

function snapshot(): ClusterSnapshot {
  const built = buildCluster([{ file: 'c.yaml', text: YAML }]);
  if (!built.ok) throw new Error(built.diagnostics.map((d) => d.message).join('; '));
  return built.snapshot;
}

function flow(client: IP, port: number, nodeProcess: boolean): FlowRequest {
  return {
    protocol: 'TCP',
    client: { ip: client, port },
    clientIsNodeProcess: nodeProcess,
    destination: { ip: parseIP('10.96.0.80'), port: 80 },
    entryNode: 'n1',
    entry: 'ClusterIP',
    servicePort: 'default/web:http',
  };
}

type Forward = Extract<Decision, { kind: 'forward' }>;

/** One proxy: its mode and its clock. */
function proxy(snap: ClusterSnapshot, kernelMode: 'iptables' | 'ipvs') {
  const clock = { t: 1_764_900_000_000, now: () => clock.t };
  const mode = new IptablesMode({ clock, rng: new SeededRng(3), kernelMode, ipvs: programIpvs });
  mode.sync(snap);
  return { clock, mode };
}

/** The node as `kpath` shows it: conntrack listing (per-direction counters), statistics, rule counters. */
function state(mode: IptablesMode, now: number): unknown {
  const n = mode.datapath()!.node('n1');
  return {
    list: formatConntrackList(n.conntrack.entries(now), now),
    stats: n.conntrack.statistics(),
    rules: renderSave(n.rules(4), { counters: true }),
  };
}

describe.each(['iptables', 'ipvs'] as const)('%s mode: batched close walks', (kernelMode) => {
  it('leave the node as walking each close at once does, whatever the clock reads when the batch runs', async () => {
    const snap = snapshot();
    const a = proxy(snap, kernelMode); // every close walked at once (datapath() runs the batch)
    const b = proxy(snap, kernelMode); // closes batched; the batch runs late
    for (const p of [a, b]) p.mode.datapath()!.node('n1').conntrack.setSysctls({ nf_conntrack_acct: 1 });
    const nodeIP = parseIP('10.240.0.11');
    const outside = parseIP('10.0.0.1');
    const rng = new SeededRng(11);
    const open: [FlowRequest, Forward, Forward][] = [];
    let port = 41000;
    for (let i = 0; i < 300; i++) {
      for (const p of [a, b]) p.clock.t += 9;
      if (open.length === 0 || rng.uint32() % 6 < 4) {
        const local = rng.uint32() % 2 === 0;
        const f = flow(local ? nodeIP : outside, port++, local);
        const da = a.mode.decide(f, 0);
        const db = b.mode.decide(f, 0);
        expect(db).toEqual(da);
        if (da.kind !== 'forward' || db.kind !== 'forward') throw new Error('not forwarded');
        open.push([f, da, db]);
      } else {
        // One or two closes in the same turn: b's wait, and its clock moves on by 1.5 s (more than
        // the listing's one-second resolution) before the next decide runs them.
        for (let k = 1 + (rng.uint32() % 2); k > 0 && open.length > 0; k--) {
          const [f, da, db] = open.splice(rng.uint32() % open.length, 1)[0]!;
          a.mode.closed(f, da);
          a.mode.datapath();
          b.mode.closed(f, db);
        }
        b.clock.t += 1500;
        a.clock.t += 1500;
      }
    }
    // The last batch is still waiting: setImmediate runs it without any reader.
    const bNode = b.mode.datapath()!.node('n1');
    const rest = open.splice(0);
    expect(rest.length).toBeGreaterThan(10);
    for (const [f, da, db] of rest) {
      a.mode.closed(f, da);
      a.mode.datapath();
      b.mode.closed(f, db);
    }
    a.clock.t += 1500;
    b.clock.t += 1500;
    await new Promise((r) => setImmediate(r));
    const now = a.clock.t;
    expect(b.clock.t).toBe(now);
    expect(formatConntrackList(bNode.conntrack.entries(now), now)).not.toContain('ESTABLISHED');
    for (const p of [a, b]) p.mode.housekeeping(now);
    const want = state(a.mode, now);
    expect(state(b.mode, now)).toEqual(want);
    expect((want as { list: string }).list).toContain('TIME_WAIT');
  });
});
