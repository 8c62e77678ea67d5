import { describe, expect, it } from 'vitest';
import { buildCluster, SAFE_ALPHABET } from '../../netmodel/cluster/index.js';
import { deployment, node, pod, snapshotOf, yamlOf } from '../helpers/cluster.js';

const SAFE = `[${SAFE_ALPHABET}]`;

describe('workload expansion and naming', () => {
  it('Deployment pods are <name>-<pod-template-hash>-<5 safe chars> with the hash label', () => {
    const s = snapshotOf(node('n1'), deployment('web', 3));
    expect(s.pods).toHaveLength(3);
    for (const p of s.pods) {
      expect(p.meta.name).toMatch(new RegExp(`^web-${SAFE}{6,10}-${SAFE}{5}$`));
      const hash = p.meta.labels['pod-template-hash']!;
      expect(p.meta.name.startsWith(`web-${hash}-`)).toBe(true);
      expect(p.meta.ownerReferences?.[0]).toMatchObject({
        kind: 'ReplicaSet',
        name: `web-${hash}`,
        controller: true,
      });
    }
    expect(new Set(s.pods.map((p) => p.meta.name)).size).toBe(3);
  });

  it('the template hash changes with the template, not with key order', () => {
    const a = snapshotOf(node('n1'), deployment('web', 1));
    const d = deployment('web', 1);
    const b = snapshotOf(node('n1'), d);
    expect(b.pods[0]!.meta.labels['pod-template-hash']).toBe(a.pods[0]!.meta.labels['pod-template-hash']);
    const changed = deployment('web', 1, { ports: [{ containerPort: 8080 }] });
    const c = snapshotOf(node('n1'), changed);
    expect(c.pods[0]!.meta.labels['pod-template-hash']).not.toBe(a.pods[0]!.meta.labels['pod-template-hash']);
  });

  it('identical input gives identical names, IPs and nodes; file order does not matter', () => {
    const docs = [node('n1'), node('n2'), deployment('web', 4), deployment('api', 2)];
    const one = snapshotOf(...docs);
    const two = snapshotOf(...docs);
    const view = (s: typeof one) =>
      s.pods.map((p) => `${p.meta.name} ${p.nodeName} ${p.podIPs.map((i) => i.text)}`).sort();
    expect(view(two)).toEqual(view(one));
    const reordered = snapshotOf(docs[3]!, docs[1]!, docs[2]!, docs[0]!);
    expect(view(reordered)).toEqual(view(one));
  });

  it('StatefulSet pods are <name>-0..n-1 with hostname and subdomain', () => {
    const sts = {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'db', namespace: 'data' },
      spec: {
        serviceName: 'db',
        replicas: 3,
        selector: { matchLabels: { app: 'db' } },
        template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
      },
    };
    const s = snapshotOf(node('n1'), sts);
    expect(s.pods.map((p) => p.meta.name)).toEqual(['db-0', 'db-1', 'db-2']);
    for (const p of s.pods) {
      expect(p.hostname).toBe(p.meta.name);
      expect(p.subdomain).toBe('db');
      expect(p.meta.labels['statefulset.kubernetes.io/pod-name']).toBe(p.meta.name);
    }
  });

  it('DaemonSet gives one pod per eligible node, skipping tainted nodes it does not tolerate', () => {
    const ds = {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'agent', namespace: 'kube-system' },
      spec: {
        selector: { matchLabels: { app: 'agent' } },
        template: {
          metadata: { labels: { app: 'agent' } },
          spec: { containers: [{ name: 'c', image: 'i' }] },
        },
      },
    };
    const s = snapshotOf(
      node('a'),
      node('b'),
      node('cp', { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] }),
      node('cordoned', { unschedulable: true }),
      ds,
    );
    // DaemonSet pods tolerate node.kubernetes.io/unschedulable, as the controller adds that toleration.
    expect(s.pods.map((p) => p.nodeName).sort()).toEqual(['a', 'b', 'cordoned']);
    for (const p of s.pods) expect(p.meta.name).toMatch(new RegExp(`^agent-${SAFE}{5}$`));
  });

  it('a pod name colliding with a workload pod is an error', () => {
    const sts = {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'db' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'db' } },
        template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
      },
    };
    const r = buildCluster([{ file: 't.yaml', text: yamlOf(node('n1'), pod('db-0'), sts) }]);
    expect(r.ok).toBe(false);
    expect(r.diagnostics.some((d) => /collides/.test(d.message))).toBe(true);
  });
});

describe('scheduler', () => {
  it('spreads replicas across nodes', () => {
    const s = snapshotOf(node('n1'), node('n2'), node('n3'), deployment('web', 6));
    const per = new Map<string, number>();
    for (const p of s.pods) per.set(p.nodeName!, (per.get(p.nodeName!) ?? 0) + 1);
    expect([...per.values()]).toEqual([2, 2, 2]);
  });

  it('honours nodeName, nodeSelector, taints and tolerations', () => {
    const tainted = node('gpu', {
      labels: { accel: 'gpu' },
      taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }],
    });
    const plain = deployment('plain', 3);
    const picky = deployment('picky', 2, {
      podSpec: {
        nodeSelector: { accel: 'gpu' },
        tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }],
      },
    });
    const s = snapshotOf(node('n1'), tainted, plain, picky, pod('pinned', { nodeName: 'gpu' }));
    for (const p of s.pods.filter((p) => p.meta.labels.app === 'plain')) expect(p.nodeName).toBe('n1');
    for (const p of s.pods.filter((p) => p.meta.labels.app === 'picky')) expect(p.nodeName).toBe('gpu');
    expect(s.pod('default', 'pinned')!.nodeName).toBe('gpu');
  });

  it('a pod that fits nowhere stays Pending without an IP and with the scheduler message', () => {
    const r = buildCluster([
      {
        file: 't.yaml',
        text: yamlOf(node('n1'), deployment('x', 1, { podSpec: { nodeSelector: { zone: 'mars' } } })),
      },
    ]);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const p = r.snapshot.pods[0]!;
    expect(p.phase).toBe('Pending');
    expect(p.nodeName).toBeNull();
    expect(p.podIPs).toEqual([]);
    expect(
      r.diagnostics.some(
        (d) =>
          d.severity === 'warning' &&
          d.message.includes("0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector"),
      ),
    ).toBe(true);
  });

  it('with no Node objects, one node is assumed', () => {
    const s = snapshotOf(deployment('web', 2));
    expect(s.nodes.map((n) => n.meta.name)).toEqual(['node-1']);
    expect(s.pods.every((p) => p.nodeName === 'node-1')).toBe(true);
  });
});
