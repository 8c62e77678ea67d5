/**
 * kube-proxy's packet-flow cases under every pod network: the same verdicts, endpoints and
 * masquerade decisions whatever the plugin (kube-proxy's rules do not depend on it), now walked
 * from the source pod's own namespace through its veth (and bridge or cali device) into the node,
 * and on to the endpoint pod where the endpoint is a pod.
 */
import { describe, expect, it } from 'vitest';
import { parseIP } from '../../netmodel/addr.js';
import type { ClusterSnapshot } from '../../netmodel/cluster/index.js';
import { packet } from '../../netmodel/packet.js';
import { SeededRng } from '../../netmodel/rng.js';
import { enumeratePaths, outcomeJson } from '../../netmodel/trace/index.js';
import { cluster, type Flow, NODE1_FLOWS } from '../trace/packet-flow-cases.js';
import { fixedPod, PLUGINS, start, world } from './helpers.js';

/** A pod at every endpoint address of cluster(), and the client pods the flows use. */
const PODS = [
  fixedPod('client', 'node1', '10.244.1.5'),
  fixedPod('ep10', 'node1', '10.244.1.10'),
  fixedPod('ep14', 'node1', '10.244.1.14'),
  fixedPod('ep18', 'node1', '10.244.1.18'),
  fixedPod('ep2-10', 'node2', '10.244.2.10'),
  fixedPod('ep2-14', 'node2', '10.244.2.14'),
  fixedPod('ep2-15', 'node2', '10.244.2.15'),
  fixedPod('ep2-16', 'node2', '10.244.2.16'),
  fixedPod('ep2-17', 'node2', '10.244.2.17'),
  fixedPod('ep2-18', 'node2', '10.244.2.18'),
];

function check(snap: ClusterSnapshot, f: Flow) {
  const pkt = packet({
    proto: f.proto ?? 'tcp',
    src: parseIP(f.src),
    dst: parseIP(f.dst),
    sport: 40000,
    dport: f.port,
  });
  const paths = enumeratePaths(
    (rng) => {
      const net = world(snap);
      const t = start(net, snap, 'node1', pkt, rng);
      const onNode = t.steps.find((s) => s.kind === 'stack' && s.ns === 'node1' && !s.outer);
      if (onNode?.kind !== 'stack')
        throw new Error(`the packet never reached node1: ${JSON.stringify(t.end)}`);
      return { walk: onNode.walk, end: t.end };
    },
    { baseSeed: () => new SeededRng(1) },
  );
  const outs = paths.map((p) => ({ ...outcomeJson(p.result.walk, p.probability, 0), end: p.result.end }));
  expect(outs.reduce((s, o) => s + o.probability, 0)).toBeCloseTo(1, 9);
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
  expect(outs.map((o) => o.dnat).sort()).toEqual(want);
  for (const o of outs) {
    expect(o.probability).toBeCloseTo(1 / want.length, 6);
    if (f.masq !== undefined) expect(o.masquerade, `masquerade for ${o.dnat}`).toBe(f.masq);
    // Every endpoint is a pod here: the packet reaches it, at the DNATed address and port.
    expect(o.end.kind, `${o.dnat}: ${JSON.stringify(o.end)}`).toBe('socket');
    if (o.end.kind === 'socket') {
      expect(o.end.ns).toMatch(/^pod\/ns\/ep/);
      expect(`${o.end.packet.dst.text}:${o.end.packet.dport}`).toBe(o.dnat);
    }
  }
}

for (const plugin of PLUGINS) {
  describe(`kube-proxy packet flows on node1 under ${plugin.name}`, () => {
    const snap = cluster({}, plugin.network, PODS);
    for (const f of NODE1_FLOWS) it(f.name, () => check(snap, f));
  });
}
