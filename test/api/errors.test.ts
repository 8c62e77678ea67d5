/**
 * The API's answers to bad and competing requests, as the apiserver gives them: 401 without the
 * token, NotFound, AlreadyExists, Conflict on a stale resourceVersion (concurrent writers never lose
 * an update), Invalid with the field causes kpath's validation finds, 400/413/415 for bad bodies.
 * Plain HTTPS with the kubeconfig's CA and token, so these run without kubectl.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addrs, baseCluster, echoDeployment, service } from '../up/helpers.js';
import { type Cluster, eventually, KUBECTL, startCluster } from './helpers.js';

const SLOT = 32;
const a = addrs(SLOT);
const SVC = '/api/v1/namespaces/default/services';

function svcBody(name: string, port = 80, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name },
    spec: { selector: { app: 'web' }, ports: [{ port, targetPort: 8080 }], ...extra },
  };
}

describe('API errors and concurrency', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await startCluster(
      baseCluster(SLOT, echoDeployment('web', 1) + service('web', { ip: a.svcIP(20), port: 8000 })),
    );
  }, 30_000);
  afterAll(async () => {
    await c?.stop();
  });

  it('401 Unauthorized as a Status without the token or with a wrong one; /version and /readyz stay public', async () => {
    for (const token of ['', 'not-the-token']) {
      const r = await c.call('GET', '/api/v1/pods', undefined, {}, token);
      expect(r.status).toBe(401);
      expect(r.json()).toEqual({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'Unauthorized',
        reason: 'Unauthorized',
        code: 401,
      });
    }
    expect((await c.call('GET', '/version', undefined, {}, '')).json()).toMatchObject({
      major: '1',
      gitVersion: expect.stringMatching(/^v1\./),
    });
    expect((await c.call('GET', '/readyz', undefined, {}, '')).text).toBe('ok');
  });

  it.skipIf(!KUBECTL)('kubectl with a wrong token is told it is not logged in', async () => {
    const r = await c.kubectl(['get', 'pods', '--token', 'wrong']);
    expect(r.code).toBe(1);
    // The reason in parentheses is kubectl's own wording, which changed between releases.
    expect(r.stderr).toMatch(
      /error: You must be logged in to the server \((Unauthorized|the server has asked for the client to provide credentials)\)/,
    );
  });

  it('discovery: aggregated (apidiscovery.k8s.io/v2) when asked, the legacy documents otherwise', async () => {
    const accept = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json';
    const agg = await c.call('GET', '/apis', undefined, { Accept: accept });
    expect(agg.headers['content-type']).toBe(
      'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList',
    );
    const groups = agg.json() as {
      kind: string;
      items: {
        metadata: { name: string };
        versions: { resources: { resource: string; scope: string }[] }[];
      }[];
    };
    expect(groups.kind).toBe('APIGroupDiscoveryList');
    expect(groups.items.map((g) => g.metadata.name)).toEqual([
      'apps',
      'discovery.k8s.io',
      'networking.k8s.io',
    ]);
    expect(groups.items[0]!.versions[0]!.resources.find((r) => r.resource === 'deployments')).toMatchObject({
      scope: 'Namespaced',
      subresources: [
        { subresource: 'scale', responseKind: { group: 'autoscaling', version: 'v1', kind: 'Scale' } },
        { subresource: 'status' },
      ],
    });
    const legacy = await c.call('GET', '/api');
    expect(legacy.json()).toMatchObject({ kind: 'APIVersions', versions: ['v1'] });
    const core = (await c.call('GET', '/api/v1')).json() as {
      resources: { name: string; namespaced: boolean; kind: string }[];
    };
    expect(core.resources.find((r) => r.name === 'pods')).toMatchObject({
      namespaced: true,
      kind: 'Pod',
      shortNames: ['po'],
    });
  });

  it('404 NotFound names the resource; an unknown resource or path is a plain 404', async () => {
    const r = await c.call('GET', `${SVC}/nope`);
    expect(r.status).toBe(404);
    expect(r.json()).toMatchObject({
      reason: 'NotFound',
      message: 'services "nope" not found',
      details: { name: 'nope', kind: 'services' },
      code: 404,
    });
    const d = await c.call('GET', '/apis/apps/v1/namespaces/default/deployments/nope');
    expect(d.json()).toMatchObject({
      message: 'deployments.apps "nope" not found',
      details: { group: 'apps', kind: 'deployments' },
    });
    const u = await c.call('GET', '/api/v1/namespaces/default/widgets');
    expect(u.status).toBe(404);
    expect(u.json()).toMatchObject({
      reason: 'NotFound',
      message: 'the server could not find the requested resource',
    });
  });

  it('create twice: 201 then 409 AlreadyExists', async () => {
    const r1 = await c.call('POST', SVC, svcBody('dup'));
    expect(r1.status).toBe(201);
    const o = r1.json() as { metadata: Record<string, string>; spec: { clusterIP: string } };
    expect(o.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(o.spec.clusterIP).toMatch(new RegExp(`^10\\.${100 + SLOT}\\.`));
    const r2 = await c.call('POST', SVC, svcBody('dup'));
    expect(r2.status).toBe(409);
    expect(r2.json()).toMatchObject({
      reason: 'AlreadyExists',
      message: 'services "dup" already exists',
      code: 409,
    });
  });

  it('concurrent updates from one resourceVersion: exactly one wins, the rest get 409 Conflict, no update is lost', async () => {
    const cur = (await c.call('GET', `${SVC}/dup`)).json() as {
      metadata: { resourceVersion: string; labels?: Record<string, string> };
    };
    const writers = Array.from({ length: 6 }, (_, i) => {
      const body = structuredClone(cur) as { metadata: { labels?: Record<string, string> } };
      body.metadata.labels = { ...(body.metadata.labels ?? {}), writer: String(i) };
      return c.call('PUT', `${SVC}/dup`, body);
    });
    const replies = await Promise.all(writers);
    const ok = replies.filter((r) => r.status === 200);
    const conflicts = replies.filter((r) => r.status === 409);
    expect(ok).toHaveLength(1);
    expect(conflicts).toHaveLength(5);
    for (const r of conflicts) {
      expect(r.json()).toMatchObject({
        reason: 'Conflict',
        message:
          'Operation cannot be fulfilled on services "dup": the object has been modified; please apply your changes to the latest version and try again',
      });
    }
    const winner = (ok[0]!.json() as { metadata: { labels: Record<string, string> } }).metadata.labels.writer;
    const now = (await c.call('GET', `${SVC}/dup`)).json() as {
      metadata: { labels: Record<string, string>; resourceVersion: string };
    };
    expect(now.metadata.labels.writer).toBe(winner);
    expect(Number(now.metadata.resourceVersion)).toBeGreaterThan(Number(cur.metadata.resourceVersion));
  });

  it('concurrent merge patches without a resourceVersion are applied one after another: every label arrives', async () => {
    const patches = Array.from({ length: 8 }, (_, i) =>
      c.call(
        'PATCH',
        `${SVC}/dup`,
        { metadata: { labels: { [`p${i}`]: 'yes' } } },
        { 'Content-Type': 'application/merge-patch+json' },
      ),
    );
    for (const r of await Promise.all(patches)) expect(r.status).toBe(200);
    const labels = (
      (await c.call('GET', `${SVC}/dup`)).json() as { metadata: { labels: Record<string, string> } }
    ).metadata.labels;
    for (let i = 0; i < 8; i++) expect(labels[`p${i}`]).toBe('yes');
  });

  it('422 Invalid carries the field causes from kpath validation, and nothing changes', async () => {
    const r = await c.call('POST', SVC, svcBody('bad', 70000));
    expect(r.status).toBe(422);
    const s = r.json() as {
      reason: string;
      message: string;
      details: { name: string; kind: string; causes: { field: string; message: string }[] };
    };
    expect(s.reason).toBe('Invalid');
    expect(s.details).toMatchObject({ name: 'bad', kind: 'Service' });
    expect(s.details.causes[0]!.field).toBe('spec.ports[0].port');
    expect(s.message).toMatch(/^Service "bad" is invalid: spec\.ports\[0\]\.port: /);
    expect((await c.call('GET', `${SVC}/bad`)).status).toBe(404);
    const scale = await c.call(
      'PATCH',
      '/apis/apps/v1/namespaces/default/deployments/web/scale',
      { spec: { replicas: -1 } },
      {
        'Content-Type': 'application/merge-patch+json',
      },
    );
    expect(scale.status).toBe(422);
    expect(scale.json()).toMatchObject({
      reason: 'Invalid',
      details: { causes: [{ field: 'spec.replicas' }] },
    });
  });

  it('bad bodies: malformed JSON 400, unknown field with fieldValidation=Strict 400, wrong media type 415, too large 413, a verb the path does not take 405', async () => {
    const bad = await c.call('POST', SVC, '{"apiVersion": "v1", "kind": ');
    expect(bad.status).toBe(400);
    expect(bad.json()).toMatchObject({ kind: 'Status', reason: 'BadRequest', code: 400 });
    const strict = await c.call(
      'POST',
      `${SVC}?fieldValidation=Strict`,
      svcBody('strict', 80, { bogus: true }),
    );
    expect(strict.status).toBe(400);
    expect(strict.json()).toMatchObject({
      reason: 'BadRequest',
      message: 'strict decoding error: unknown field "spec.bogus"',
    });
    const warn = await c.call('POST', `${SVC}?fieldValidation=Warn`, svcBody('warned', 80, { bogus: true }));
    expect(warn.status).toBe(201);
    expect(String(warn.headers.warning)).toContain('unknown field \\"spec.bogus\\"');
    const media = await c.call('PATCH', `${SVC}/dup`, '{}', { 'Content-Type': 'text/plain' });
    expect(media.status).toBe(415);
    expect(media.json()).toMatchObject({ reason: 'UnsupportedMediaType' });
    const big = await c.call('POST', SVC, 'x'.repeat(3 * 1024 * 1024 + 1));
    expect(big.status).toBe(413);
    expect(big.json()).toMatchObject({ reason: 'RequestEntityTooLarge' });
    const notAllowed = await c.call('POST', `${SVC}/dup`, svcBody('dup'));
    expect(notAllowed.status).toBe(405);
    expect(notAllowed.json()).toMatchObject({ reason: 'MethodNotAllowed', code: 405 });
    const mismatch = await c.call('POST', '/api/v1/namespaces/other/services', {
      ...svcBody('x'),
      metadata: { name: 'x', namespace: 'default' },
    });
    expect(mismatch.status).toBe(400);
    expect(mismatch.json()).toMatchObject({
      message: 'the namespace of the provided object does not match the namespace sent on the request',
    });
    // Another kind, a kind no scheme knows: the apiserver's messages (transformDecodeError), the
    // same for JSON as for protobuf bodies (test/api/protobuf.test.ts).
    for (const [body, message] of [
      [
        { ...svcBody('k'), kind: 'Pod' },
        'Pod in version "v1" cannot be handled as a Service: converting (v1.Pod) to (core.Service): unknown conversion',
      ],
      [
        { ...svcBody('k'), kind: 'Servce' },
        'Servce in version "v1" cannot be handled as a Service: no kind "Servce" is registered for version "v1" in scheme "pkg/api/legacyscheme/scheme.go:30"',
      ],
    ] as const) {
      const r = await c.call('POST', SVC, body);
      expect(r.status).toBe(400);
      expect(r.json()).toMatchObject({ reason: 'BadRequest', message });
    }
  });

  it("derived objects are the controllers': changing a Deployment's ReplicaSet is 403 Forbidden", async () => {
    const rs = (await c.call('GET', '/apis/apps/v1/namespaces/default/replicasets')).json() as {
      items: { metadata: { name: string } }[];
    };
    const name = rs.items[0]!.metadata.name;
    const r = await c.call('DELETE', `/apis/apps/v1/namespaces/default/replicasets/${name}`);
    expect(r.status).toBe(403);
    expect(r.json()).toMatchObject({ reason: 'Forbidden' });
  });

  it("a crashed container shows in the pod's status: restartCount from the running pod, as kubectl's RESTARTS", async () => {
    const pod = c.rt.pods().find((p) => p.pod.startsWith('default/web-'))!;
    const path = `/api/v1/namespaces/${pod.pod.replace('/', '/pods/')}`;
    expect(c.rt.kill(pod.pod)).toBe(true);
    const after = await eventually(
      async () => {
        const o = (await c.call('GET', path)).json() as {
          status: { containerStatuses: { restartCount: number; ready: boolean }[] };
        };
        const cs = o.status.containerStatuses[0]!;
        return cs.restartCount === 1 && cs.ready ? o : undefined;
      },
      'the restart to show',
      30_000,
    );
    expect(after.status.containerStatuses[0]!.restartCount).toBe(1);
    const table = (
      await c.call('GET', path, undefined, { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' })
    ).json() as {
      rows: { cells: unknown[] }[];
    };
    expect(table.rows[0]!.cells.slice(1, 4)).toEqual(['1/1', 'Running', '1']);
  }, 40_000);

  it('deleting a namespace takes its objects along; the built-in ones may not be deleted', async () => {
    const ns = await c.call('POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'scratch' },
    });
    expect(ns.status).toBe(201);
    expect((await c.call('POST', '/api/v1/namespaces/scratch/services', svcBody('inside'))).status).toBe(201);
    expect((await c.call('DELETE', '/api/v1/namespaces/scratch')).status).toBe(200);
    expect((await c.call('GET', '/api/v1/namespaces/scratch/services/inside')).status).toBe(404);
    expect((await c.call('GET', '/api/v1/namespaces/scratch')).status).toBe(404);
    const d = await c.call('DELETE', '/api/v1/namespaces/default');
    expect(d.status).toBe(403);
    expect(d.json()).toMatchObject({
      reason: 'Forbidden',
      message: 'namespaces "default" is forbidden: this namespace may not be deleted',
    });
  });

  it('watch from a resourceVersion replays later changes, then a BOOKMARK', async () => {
    const list = (await c.call('GET', SVC)).json() as { metadata: { resourceVersion: string } };
    const rv = list.metadata.resourceVersion;
    expect((await c.call('DELETE', `${SVC}/warned`)).status).toBe(200);
    const w = await c.call(
      'GET',
      `${SVC}?watch=1&resourceVersion=${rv}&allowWatchBookmarks=true&timeoutSeconds=1`,
    );
    const events = w.text
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as { type: string; object: { metadata: { name?: string; resourceVersion: string } } },
      );
    expect(events[0]).toMatchObject({ type: 'DELETED', object: { metadata: { name: 'warned' } } });
    expect(Number(events[0]!.object.metadata.resourceVersion)).toBeGreaterThan(Number(rv));
    expect(events.some((e) => e.type === 'BOOKMARK')).toBe(true);
  });
});
