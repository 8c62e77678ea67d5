/**
 * What kubectl changes outlives `kpath up`: it is in the state directory before the answer, restored
 * over the manifest files on the next start, gone with --fresh; a manifest edited while running
 * replaces the API's version of that object (the last change wins). Over HTTPS, so no kubectl needed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { addrs, baseCluster, echoDeployment, get, service } from '../up/helpers.js';
import { type Cluster, eventually, startCluster } from './helpers.js';

const SLOT = 33;
const a = addrs(SLOT);
const yaml = (replicas: number) =>
  baseCluster(
    SLOT,
    echoDeployment('web', replicas) +
      service('web', { ip: a.svcIP(20), port: 8000 }) +
      service('gone', { ip: a.svcIP(21), port: 8001, selector: 'web' }),
  );
const MERGE = { 'Content-Type': 'application/merge-patch+json' };
const DEPLOY = '/apis/apps/v1/namespaces/default/deployments/web';

type O = { metadata: Record<string, unknown>; spec: Record<string, unknown> };

async function podNames(c: Cluster): Promise<string[]> {
  const l = (await c.call('GET', '/api/v1/namespaces/default/pods?labelSelector=app%3Dweb')).json() as {
    items: O[];
  };
  return l.items.map((p) => String(p.metadata.name)).sort();
}

describe('API state across restarts', () => {
  let c: Cluster | undefined;
  afterEach(async () => {
    await c?.stop();
    c = undefined;
  });

  it('keeps created, scaled and deleted objects; --fresh starts from the files alone', async () => {
    c = await startCluster(yaml(1));
    const dir = c.dir;
    const created = await c.call('POST', '/api/v1/namespaces/default/services', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'extra' },
      spec: { selector: { app: 'web' }, ports: [{ port: 9000, targetPort: 8080 }] },
    });
    expect(created.status).toBe(201);
    const extra = created.json() as O;
    // Written before the answer: the state file already has it.
    const state = JSON.parse(readFileSync(join(c.stateDir, 'objects.json'), 'utf8')) as {
      objects: Record<string, unknown>;
    };
    expect(Object.keys(state.objects)).toContain('services/default/extra');
    expect((await c.call('PATCH', `${DEPLOY}/scale`, { spec: { replicas: 2 } }, MERGE)).status).toBe(200);
    expect((await c.call('DELETE', '/api/v1/namespaces/default/services/gone')).status).toBe(200);
    const pods = await podNames(c);
    expect(pods).toHaveLength(2);
    const rvBefore = Number(
      ((await c.call('GET', '/api/v1/namespaces/default/services')).json() as O).metadata.resourceVersion,
    );
    await c.stop();

    c = await startCluster('', { dir });
    const again = (await c.call('GET', '/api/v1/namespaces/default/services/extra')).json() as O;
    expect(again.metadata.uid).toBe(extra.metadata.uid);
    expect(again.spec.clusterIP).toBe(extra.spec.clusterIP);
    expect((await c.call('GET', '/api/v1/namespaces/default/services/gone')).status).toBe(404);
    expect(((await c.call('GET', DEPLOY)).json() as O).spec.replicas).toBe(2);
    expect(await podNames(c)).toEqual(pods);
    const twin = String(extra.spec.clusterIP).replace(/^10\./, '127.');
    const r = await eventually(
      async () => (await get(twin, 9000).catch(() => undefined)) ?? undefined,
      'extra answering after the restart',
    );
    expect(pods).toContain(r.json().pod);
    const rvAfter = Number(
      ((await c.call('GET', '/api/v1/namespaces/default/services')).json() as O).metadata.resourceVersion,
    );
    expect(rvAfter).toBeGreaterThan(rvBefore);
    await c.stop();

    c = await startCluster('', { dir, fresh: true });
    expect((await c.call('GET', '/api/v1/namespaces/default/services/extra')).status).toBe(404);
    expect((await c.call('GET', '/api/v1/namespaces/default/services/gone')).status).toBe(200);
    expect(((await c.call('GET', DEPLOY)).json() as O).spec.replicas).toBe(1);
  }, 60_000);

  it('a manifest edited while running replaces what the API changed on that object; other API changes stay', async () => {
    c = await startCluster(yaml(1), { watch: true });
    expect((await c.call('PATCH', `${DEPLOY}/scale`, { spec: { replicas: 2 } }, MERGE)).status).toBe(200);
    expect(
      (
        await c.call(
          'PATCH',
          '/api/v1/namespaces/default/services/gone',
          { metadata: { labels: { kept: 'yes' } } },
          MERGE,
        )
      ).status,
    ).toBe(200);
    writeFileSync(c.file, yaml(3));
    await eventually(
      async () => ((await c!.call('GET', DEPLOY)).json() as O).spec.replicas === 3,
      'the file edit to win',
    );
    const gone = (await c.call('GET', '/api/v1/namespaces/default/services/gone')).json() as O;
    expect(gone.metadata.labels).toEqual({ kept: 'yes' });
    await eventually(async () => (await podNames(c!)).length === 3, 'three pods');
  }, 30_000);
});
