/**
 * kube-proxy's packet-flow behaviour, as a table (in the style of kube-proxy's own runPacketFlowTests):
 * a source, a destination, and what must happen on the node: the set of endpoints the packet can be
 * DNATed to (all of them with equal probability), or REJECT/DROP, and whether it is masqueraded.
 * Every case is run as `kpath trace --all` runs it: through the rules kube-proxy writes, loaded into
 * the emulated kernel, with every random path enumerated.
 */
import { describe, expect, it } from 'vitest';
import { buildHostNetwork } from '../../cni/index.js';
import { isLoopback, parseIP } from '../../netmodel/addr.js';
import type { ClusterSnapshot } from '../../netmodel/cluster/index.js';
import { receive, send } from '../../netmodel/kernel/index.js';
import { packet } from '../../netmodel/packet.js';
import { SeededRng } from '../../netmodel/rng.js';
import { enumeratePaths, outcomeJson } from '../../netmodel/trace/index.js';
import { applyFullSync, renderNode } from '../../proxy/iptables/index.js';
import { cluster, type Flow, NODE1_FLOWS } from './packet-flow-cases.js';

function run(snap: ClusterSnapshot, nodeName: string, f: Flow) {
  const render = renderNode(snap, nodeName);
  const src = parseIP(f.src);
  const dst = parseIP(f.dst);
  const pkt = packet({ proto: f.proto ?? 'tcp', src, dst, sport: 40000, dport: f.port });
  const paths = enumeratePaths(
    (rng) => {
      const k = buildHostNetwork(snap).nodes.get(nodeName)!;
      applyFullSync(k, render);
      const env = { now: 0, rng, trace: true };
      if (isLoopback(src) || k.isLocal(src)) return send(k, pkt, env);
      const iif = f.src.startsWith('10.244.1.') ? 'cni0' : 'eth0';
      return receive(k, pkt, iif, env);
    },
    { baseSeed: () => new SeededRng(1) },
  );
  return paths.map((p) => outcomeJson(p.result, p.probability, 0));
}

function check(snap: ClusterSnapshot, nodeName: string, f: Flow) {
  const outs = run(snap, nodeName, f);
  const total = outs.reduce((s, o) => s + o.probability, 0);
  expect(total).toBeCloseTo(1, 9);
  if (f.output === 'REJECT' || f.output === 'DROP') {
    expect(outs.map((o) => o.verdict)).toEqual([f.output]);
    return;
  }
  if (f.output === 'no DNAT') {
    expect(outs.every((o) => o.verdict === 'ACCEPT' && o.dnat === null)).toBe(true);
    return;
  }
  const want = f.output
    .split(',')
    .map((s) => s.trim())
    .sort();
  expect(outs.every((o) => o.verdict === 'ACCEPT')).toBe(true);
  expect(outs.map((o) => o.dnat).sort()).toEqual(want);
  for (const o of outs) expect(o.probability).toBeCloseTo(1 / want.length, 6);
  if (f.masq !== undefined)
    for (const o of outs) expect(o.masquerade, `masquerade for ${o.dnat}`).toBe(f.masq);
}

describe('kube-proxy packet flows on node1 (iptables mode)', () => {
  const snap = cluster();
  const flows = NODE1_FLOWS;
  for (const f of flows) it(f.name, () => check(snap, 'node1', f));
});

describe('kube-proxy packet flows with other configurations', () => {
  it('masqueradeAll masquerades pod traffic to cluster IPs too', () => {
    check(cluster({ iptables: { masqueradeAll: true } }), 'node1', {
      name: '',
      src: '10.244.1.5',
      dst: '10.96.0.41',
      port: 80,
      output: '10.244.1.10:80',
      masq: true,
    });
  });
  it('nodePortAddresses: NodePorts answer only on matching addresses', () => {
    const snap = cluster({ nodePortAddresses: ['10.0.0.0/24'] });
    check(snap, 'node1', {
      name: '',
      src: '192.0.2.100',
      dst: '10.0.0.11',
      port: 30005,
      output: '10.244.2.15:80',
      masq: true,
    });
    check(snap, 'node1', { name: '', src: '127.0.0.1', dst: '127.0.0.1', port: 30005, output: 'no DNAT' });
  });
  it('localhostNodePorts: false leaves 127.0.0.1 alone', () => {
    check(cluster({ iptables: { localhostNodePorts: false } }), 'node1', {
      name: '',
      src: '127.0.0.1',
      dst: '127.0.0.1',
      port: 30005,
      output: 'no DNAT',
    });
  });
  it('on node2 the eTP Local NodePort picks node2 endpoint', () => {
    check(cluster(), 'node2', {
      name: '',
      src: '192.0.2.100',
      dst: '10.0.0.12',
      port: 30004,
      output: '10.244.2.14:80',
      masq: false,
    });
  });
});
