import { describe, expect, it } from 'vitest';
import { type ClusterChange, ClusterStore } from '../../netmodel/cluster/index.js';
import { build, deployment, node, svc } from '../helpers/cluster.js';

function parts(...docs: Record<string, unknown>[]) {
  const r = build(...docs);
  if (!r.ok) throw new Error('invalid');
  return r.snapshot;
}

describe('ClusterStore', () => {
  it('versions snapshots, tells subscribers what changed, and skips no-op applies', () => {
    const store = new ClusterStore();
    const seen: ClusterChange[] = [];
    const unsubscribe = store.subscribe((c) => seen.push(c));
    store.apply(parts(node('n1'), deployment('web', 2), svc('web')));
    expect(store.version).toBe(1);
    expect(seen[0]!.services.added).toEqual(['default/web']);
    expect(seen[0]!.configChanged).toBe(true);

    expect(store.apply(parts(node('n1'), deployment('web', 2), svc('web')))).toBeUndefined();
    expect(store.version).toBe(1);

    store.apply(parts(node('n1'), deployment('web', 3), svc('web'), svc('api')));
    expect(store.version).toBe(2);
    const c = seen[1]!;
    expect(c.services.added).toEqual(['default/api']);
    expect(c.pods.added).toHaveLength(1);
    expect(c.endpointSlices.changed.length + c.endpointSlices.added.length).toBeGreaterThan(0);
    expect(c.configChanged).toBe(false);
    expect(c.from!.version).toBe(1);

    store.apply(parts(node('n1'), deployment('web', 3), svc('web', { ports: [{ port: 8080 }] }), svc('api')));
    expect(seen[2]!.services.changed).toEqual(['default/web']);

    unsubscribe();
    store.apply(parts(node('n1')));
    expect(seen).toHaveLength(3);
    expect(store.current()!.services).toEqual([]);
  });

  it('snapshots are immutable', () => {
    const s = parts(node('n1'), svc('web'));
    expect(() => {
      (s.services as unknown as unknown[]).push({});
    }).toThrow(TypeError);
    expect(() => {
      (s.services[0] as unknown as { type: string }).type = 'NodePort';
    }).toThrow(TypeError);
  });
});
