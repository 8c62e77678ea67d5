/**
 * Stable scheduling: a pod that exists keeps its node, name and IPs when another workload changes.
 * The previous snapshot is an input to the build (no hidden state).
 */
import { describe, expect, it } from 'vitest';
import { buildCluster, type ClusterSnapshot } from '../../netmodel/cluster/index.js';
import { deployment, node, pod, yamlOf } from '../helpers/cluster.js';

type Obj = Record<string, unknown>;

function snap(docs: Obj[], previous?: ClusterSnapshot): ClusterSnapshot {
  const r = buildCluster([{ file: 'c.yaml', text: yamlOf(...docs) }], previous ? { previous } : {});
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.snapshot;
}

const placement = (s: ClusterSnapshot, owner: (name: string) => boolean) =>
  s.pods
    .filter((p) => owner(p.meta.name))
    .map((p) => `${p.meta.namespace}/${p.meta.name}@${p.nodeName}=${p.podIPs.map((x) => x.text).join(',')}`)
    .sort();

const nodes = [node('node-1'), node('node-2'), node('node-3')];
// "aaa" sorts before "cart", so today's scheduler places its pods first: scaling it shifts the others.
const cluster = (aaa: number) => [
  ...nodes,
  deployment('aaa', aaa),
  deployment('cart', 2, { namespace: 'shop' }),
  pod('loner', {}),
];

describe('stable scheduling', () => {
  it('scaling one deployment keeps every other pod on its node with its IP', () => {
    const before = snap(cluster(1));
    const others = (n: string) => !n.startsWith('aaa-');
    for (const scale of [2, 3, 7, 0]) {
      const after = snap(cluster(scale), before);
      expect(placement(after, others)).toEqual(placement(before, others));
      expect(after.pods.filter((p) => p.meta.name.startsWith('aaa-'))).toHaveLength(scale);
      // The new pods' IPs do not collide with the kept ones.
      const ips = after.pods.flatMap((p) => p.podIPs.map((x) => x.text));
      expect(new Set(ips).size).toBe(ips.length);
    }
  });

  it('a one-shot build (no previous snapshot) keeps every other pod too: scaled, emptied or edited', () => {
    // kpath get: a pod's node depends only on its own workload's earlier pods and its name, its IP
    // on a hash of its namespace and name; nothing another workload does enters either.
    const before = snap(cluster(1));
    const others = (n: string) => !n.startsWith('aaa-');
    for (const scale of [2, 3, 7, 0]) {
      expect(placement(snap(cluster(scale)), others)).toEqual(placement(before, others));
    }
    const edited = cluster(1).map((d) =>
      (d as { metadata?: { name?: string } }).metadata?.name === 'aaa'
        ? deployment('aaa', 4, { ports: [{ containerPort: 9090 }] })
        : d,
    );
    expect(placement(snap(edited), others)).toEqual(placement(before, others));
    // Replicas still spread: 7 pods over 3 nodes is 3, 2, 2.
    const perNode = new Map<string, number>();
    for (const p of snap(cluster(7)).pods.filter((x) => x.meta.name.startsWith('aaa-')))
      perNode.set(p.nodeName!, (perNode.get(p.nodeName!) ?? 0) + 1);
    expect([...perNode.values()].sort()).toEqual([2, 2, 3]);
  });

  it('kpath up (kept placements from the previous snapshot) and a one-shot get of the same manifests agree', () => {
    for (const [from, to] of [
      [1, 3],
      [2, 5],
      [5, 2],
    ] as const) {
      const all = () => true;
      expect(placement(snap(cluster(to), snap(cluster(from))), all)).toEqual(
        placement(snap(cluster(to)), all),
      );
    }
  });

  it("a workload's own pods that survive a scale-up keep their node and IP too", () => {
    const before = snap(cluster(2));
    const after = snap(cluster(5), before);
    const kept = placement(before, (n) => n.startsWith('aaa-'));
    const now = placement(after, (n) => n.startsWith('aaa-'));
    for (const k of kept) expect(now).toContain(k);
  });

  it('a changed template re-plans only that workload (new pod names)', () => {
    const before = snap(cluster(2));
    const changed = cluster(2).map((d) =>
      (d as { metadata?: { name?: string } }).metadata?.name === 'aaa'
        ? deployment('aaa', 2, { ports: [{ containerPort: 9090 }] })
        : d,
    );
    const after = snap(changed, before);
    const others = (n: string) => !n.startsWith('aaa-');
    expect(placement(after, others)).toEqual(placement(before, others));
    const oldNames = before.pods.filter((p) => p.meta.name.startsWith('aaa-')).map((p) => p.meta.name);
    const newNames = after.pods.filter((p) => p.meta.name.startsWith('aaa-')).map((p) => p.meta.name);
    expect(newNames.some((n) => oldNames.includes(n))).toBe(false);
  });

  it('a pod whose node is gone is placed again', () => {
    const before = snap(cluster(1));
    const cart = before.pods.find((p) => p.meta.namespace === 'shop')!;
    const remaining = cluster(1).filter(
      (d) =>
        !(
          (d as { kind?: string }).kind === 'Node' &&
          (d as { metadata: { name: string } }).metadata.name === cart.nodeName
        ),
    );
    const after = snap(remaining, before);
    expect(after.pod('shop', cart.meta.name)!.nodeName).not.toBe(cart.nodeName);
  });
});
