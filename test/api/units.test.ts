/**
 * The API's pure parts against worked examples from the specifications and upstream sources:
 * RFC 7386 (merge patch) and RFC 6902 (JSON patch) appendix examples, apimachinery's strategic merge
 * patch directives (docs/devel/sig-api-machinery/strategic-merge-patch.md), duration.HumanDuration
 * (k8s.io/apimachinery/pkg/util/duration/duration_test.go), labels.Parse syntax, and the cache's
 * resourceVersion / generation / watch bookkeeping.
 */
import { describe, expect, it } from 'vitest';
import { fieldSet, serverSideApply } from '../../proxy/api/apply.js';
import { ObjectCache } from '../../proxy/api/cache.js';
import { compose, parseSources } from '../../proxy/api/compose.js';
import { type Json, jsonPatch, mergePatch, strategicMerge } from '../../proxy/api/patch.js';
import { type Obj, type RenderedCluster, renderCluster } from '../../proxy/api/render.js';
import {
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
} from '../../proxy/api/selectors.js';
import { emptyState } from '../../proxy/api/state.js';
import { humanDuration } from '../../proxy/api/table.js';

describe('merge patch (RFC 7386 appendix A)', () => {
  const cases: [Json, Json, Json][] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [
      ['a', 'b'],
      ['c', 'd'],
      ['c', 'd'],
    ],
    [{ a: 'b' }, ['c'], ['c']],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  it.each(cases)('%j + %j', (target, patch, want) => {
    expect(mergePatch(target, patch)).toEqual(want);
  });
});

describe('JSON patch (RFC 6902 appendix A)', () => {
  it('adds, removes, replaces, moves, copies and tests', () => {
    expect(jsonPatch({ foo: 'bar' }, [{ op: 'add', path: '/baz', value: 'qux' }])).toEqual({
      foo: 'bar',
      baz: 'qux',
    });
    expect(jsonPatch({ foo: ['bar', 'baz'] }, [{ op: 'add', path: '/foo/1', value: 'qux' }])).toEqual({
      foo: ['bar', 'qux', 'baz'],
    });
    expect(jsonPatch({ baz: 'qux', foo: 'bar' }, [{ op: 'remove', path: '/baz' }])).toEqual({ foo: 'bar' });
    expect(jsonPatch({ foo: ['bar', 'qux', 'baz'] }, [{ op: 'remove', path: '/foo/1' }])).toEqual({
      foo: ['bar', 'baz'],
    });
    expect(jsonPatch({ baz: 'qux', foo: 'bar' }, [{ op: 'replace', path: '/baz', value: 'boo' }])).toEqual({
      baz: 'boo',
      foo: 'bar',
    });
    expect(
      jsonPatch({ foo: { bar: 'baz', waldo: 'fred' }, qux: { corge: 'grault' } }, [
        { op: 'move', from: '/foo/waldo', path: '/qux/thud' },
      ]),
    ).toEqual({ foo: { bar: 'baz' }, qux: { corge: 'grault', thud: 'fred' } });
    expect(
      jsonPatch({ foo: ['all', 'grass', 'cows', 'eat'] }, [{ op: 'move', from: '/foo/1', path: '/foo/3' }]),
    ).toEqual({
      foo: ['all', 'cows', 'eat', 'grass'],
    });
    expect(jsonPatch({ foo: ['bar'] }, [{ op: 'add', path: '/foo/-', value: ['abc', 'def'] }])).toEqual({
      foo: ['bar', ['abc', 'def']],
    });
    expect(jsonPatch({ '/': 9, '~1': 10 }, [{ op: 'test', path: '/~01', value: 10 }])).toEqual({
      '/': 9,
      '~1': 10,
    });
    expect(() => jsonPatch({ baz: 'qux' }, [{ op: 'test', path: '/baz', value: 'bar' }])).toThrow(
      /testing value \/baz failed/,
    );
    expect(() => jsonPatch({ foo: 'bar' }, [{ op: 'add', path: '/baz/bat', value: 'qux' }])).toThrow(
      /missing/,
    );
  });
});

describe('strategic merge patch', () => {
  const pod = {
    spec: {
      containers: [
        { name: 'nginx', image: 'nginx-1.0', ports: [{ containerPort: 80 }] },
        { name: 'log', image: 'log-1.0' },
      ],
      tolerations: [{ key: 'a', operator: 'Exists' }],
    },
    metadata: { finalizers: ['a', 'b'], labels: { app: 'x', tier: 'y' } },
  };
  it('merges lists by their patch merge key, replaces lists without one', () => {
    const out = strategicMerge(pod as unknown as Json, {
      spec: {
        containers: [
          { name: 'nginx', image: 'nginx-1.1' },
          { name: 'sidecar', image: 's' },
        ],
        tolerations: [{ key: 'b', operator: 'Exists' }],
      },
    }) as typeof pod;
    expect(out.spec.containers.map((c) => [c.name, c.image])).toEqual([
      ['nginx', 'nginx-1.1'],
      ['log', 'log-1.0'],
      ['sidecar', 's'],
    ]);
    expect(out.spec.containers[0]!.ports).toEqual([{ containerPort: 80 }]);
    expect(out.spec.tolerations).toEqual([{ key: 'b', operator: 'Exists' }]);
  });
  it('$patch: delete removes a list item; null removes a map key; $setElementOrder orders the list', () => {
    const out = strategicMerge(pod as unknown as Json, {
      metadata: { labels: { tier: null } },
      spec: { containers: [{ name: 'log', $patch: 'delete' }] },
    }) as typeof pod;
    expect(out.spec.containers.map((c) => c.name)).toEqual(['nginx']);
    expect(out.metadata.labels).toEqual({ app: 'x' });
    const ordered = strategicMerge(pod as unknown as Json, {
      spec: {
        '$setElementOrder/containers': [{ name: 'log' }, { name: 'nginx' }],
        containers: [{ name: 'log', image: 'log-2' }],
      },
    }) as typeof pod;
    expect(ordered.spec.containers.map((c) => `${c.name}:${c.image}`)).toEqual([
      'log:log-2',
      'nginx:nginx-1.0',
    ]);
  });
  it('$retainKeys, $deleteFromPrimitiveList and merging primitive lists with a merge strategy (finalizers)', () => {
    const r = strategicMerge(
      { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } } },
      {
        strategy: { $retainKeys: ['type'], type: 'Recreate' },
      },
    );
    expect(r).toEqual({ strategy: { type: 'Recreate' } });
    expect(
      (
        strategicMerge(pod as unknown as Json, {
          metadata: { '$deleteFromPrimitiveList/finalizers': ['a'] },
        }) as typeof pod
      ).metadata.finalizers,
    ).toEqual(['b']);
    expect(
      (strategicMerge(pod as unknown as Json, { metadata: { finalizers: ['c'] } }) as typeof pod).metadata
        .finalizers,
    ).toEqual(['a', 'b', 'c']);
  });
});

describe('server-side apply (one manager)', () => {
  it('records the applied fields and removes the ones a later apply leaves out', () => {
    const first = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'c', labels: { a: '1', b: '2' } },
      data: { x: '1' },
    };
    expect(fieldSet(first as never)).toEqual({
      'f:metadata': { 'f:labels': { 'f:a': {}, 'f:b': {} } },
      'f:data': { 'f:x': {} },
    });
    const live = serverSideApply(undefined, first as never, 'kubectl', 't0');
    const withOther = { ...live, data: { ...(live.data as object), y: 'other' } };
    const second = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'c', labels: { a: '1' } },
      data: { x: '2' },
    };
    const out = serverSideApply(withOther as never, second as never, 'kubectl', 't1') as {
      metadata: { labels: object; managedFields: { manager: string }[] };
      data: object;
    };
    expect(out.metadata.labels).toEqual({ a: '1' });
    expect(out.data).toEqual({ x: '2', y: 'other' });
    expect(out.metadata.managedFields).toHaveLength(1);
  });
});

describe('duration.HumanDuration', () => {
  const s = 1000;
  const h = 3600 * s;
  it.each([
    [1 * s, '1s'],
    [70 * s, '70s'],
    [190 * s, '3m10s'],
    [70 * 60 * s, '70m'],
    [47 * h, '47h'],
    [49 * h, '2d1h'],
    [(8 * 24 + 2) * h, '8d'],
    [367 * 24 * h, '367d'],
    [(365 * 2 * 24 + 25) * h, '2y1d'],
    [(365 * 8 * 24 + 2) * h, '8y'],
  ])('%d ms is %s', (ms, want) => {
    expect(humanDuration(ms)).toBe(want);
  });
});

describe('selectors', () => {
  const labels = { app: 'web', tier: 'front', env: 'prod' };
  it.each([
    ['app=web', true],
    ['app==web,tier=front', true],
    ['app!=web', false],
    ['missing!=x', true],
    ['env in (prod,staging)', true],
    ['env notin (prod)', false],
    ['tier', true],
    ['!tier', false],
    ['!missing', true],
  ])('%s matches: %s', (sel, want) => {
    expect(matchesLabels(parseLabelSelector(sel), labels)).toBe(want);
  });
  it('rejects what labels.Parse rejects; field selectors compare dotted paths', () => {
    expect(() => parseLabelSelector('a=(b')).toThrow(/unable to parse requirement/);
    const pod = {
      metadata: { name: 'p', namespace: 'd' },
      spec: { nodeName: 'n1' },
      status: { phase: 'Running' },
    };
    expect(matchesFields(parseFieldSelector('metadata.name=p,spec.nodeName=n1'), pod)).toBe(true);
    expect(matchesFields(parseFieldSelector('status.phase!=Running'), pod)).toBe(false);
  });
});

describe('object cache', () => {
  const cluster = (objs: Record<string, Obj>): RenderedCluster =>
    new Map([
      [
        'services',
        new Map(Object.entries(objs).map(([k, obj]) => [k, { obj: structuredClone(obj), derived: false }])),
      ],
    ]);
  const svc = (port: number, label = 'a') => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 's', namespace: 'd', labels: { l: label } },
    spec: { ports: [{ port }] },
  });

  it('gives changed objects a new resourceVersion, bumps generation only for spec changes, and replays events to a watch', () => {
    const c = new ObjectCache(0, 3);
    c.update(cluster({ 'd/s': svc(80) }), '2026-01-01T00:00:00Z');
    const e1 = c.get('services', 'd/s')!;
    expect(e1.rv).toBe(1);
    expect((e1.obj.metadata as Obj).generation).toBe(1);
    expect(c.update(cluster({ 'd/s': svc(80) }), 'later')).toHaveLength(0);
    c.update(cluster({ 'd/s': svc(80, 'b') }), 'later');
    expect((c.get('services', 'd/s')!.obj.metadata as Obj).generation).toBe(1);
    c.update(cluster({ 'd/s': svc(81, 'b') }), 'later');
    const e3 = c.get('services', 'd/s')!;
    expect(e3.rv).toBe(3);
    expect((e3.obj.metadata as Obj).generation).toBe(2);
    expect((e3.obj.metadata as Obj).creationTimestamp).toBe('2026-01-01T00:00:00Z');
    const seen: string[] = [];
    const cancel = c.watch(1, (e) => seen.push(`${e.type}@${e.rv}`))!;
    c.update(cluster({}), 'later');
    expect(seen).toEqual(['MODIFIED@2', 'MODIFIED@3', 'DELETED@4']);
    cancel();
    // Three events kept: 2, 3, 4. Resuming from 0 would miss event 1: 410 Gone.
    expect(c.watch(0, () => {})).toBeUndefined();
    expect(c.watch(1, () => {})).toBeDefined();
  });
});

describe('controllers replace deleted pods', () => {
  const yaml = `apiVersion: v1
kind: Node
metadata: {name: n1}
spec: {podCIDR: 10.244.1.0/24}
status: {addresses: [{type: InternalIP, address: 10.0.0.11}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 1
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, image: kpath/echo}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: c, image: kpath/echo}]}
`;
  const parsed = parseSources([{ file: 'c.yaml', text: yaml }]);
  const pods = (deletedPods: Record<string, string[]>) => {
    const c = compose(parsed, { ...emptyState(), deletedPods }, { version: 1 });
    if (!c.result.ok) throw new Error(c.result.diagnostics.map((d) => d.message).join('; '));
    return c.result.snapshot.pods.map((p) => ({
      name: p.meta.name,
      uid: p.meta.uid,
      owner: p.meta.ownerReferences?.[0]?.kind,
    }));
  };

  it('a DaemonSet pod comes back under a new name; a StatefulSet pod under its name with a new uid', () => {
    const before = pods({});
    const ds = before.find((p) => p.owner === 'DaemonSet')!;
    const sts = before.find((p) => p.owner === 'StatefulSet')!;
    expect(sts.name).toBe('db-0');
    const after = pods({
      'apps/daemonsets/default/agent': [ds.name],
      'apps/statefulsets/default/db': ['db-0'],
    });
    const ds2 = after.find((p) => p.owner === 'DaemonSet')!;
    const sts2 = after.find((p) => p.owner === 'StatefulSet')!;
    expect(ds2.name).not.toBe(ds.name);
    expect(ds2.name).toMatch(/^agent-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect(sts2.name).toBe('db-0');
    expect(sts2.uid).not.toBe(sts.uid);
    // The annotation that carries this is the API's own: it is not served.
    const c = compose(
      parsed,
      { ...emptyState(), deletedPods: { 'apps/daemonsets/default/agent': [ds.name] } },
      { version: 1 },
    );
    if (!c.result.ok) throw new Error('invalid');
    const served = renderCluster(c.result.snapshot, new Map())
      .get('apps/daemonsets')!
      .get('default/agent')!.obj;
    expect(JSON.stringify(served)).not.toContain('kpath.dev/deleted-pods');
  });
});
