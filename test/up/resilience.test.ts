/** Failure under load: a backend killed, manifests changed, a slow reader, a bad manifest. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../proxy/runtime/index.js';
import {
  addrs,
  baseCluster,
  dial,
  echoDeployment,
  ending,
  expectSlowReaderBounded,
  get,
  memoryLogger,
  service,
  up,
  waitFor,
  writeCluster,
} from './helpers.js';

const SLOT = 3;
const a = addrs(SLOT);
const cluster = (replicas: number, extra = '') =>
  baseCluster(
    SLOT,
    echoDeployment('web', replicas) + service('web', { ip: a.svcIP(20), port: 8000 }) + extra,
  );

/** Echo a message on a raw connection and wait for it back. */
function roundTrip(s: import('node:net').Socket, msg: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (d: Buffer) => {
      got += d.toString();
      if (got.length >= msg.length) {
        s.off('data', onData);
        resolve(got);
      }
    };
    s.on('data', onData);
    s.once('error', reject);
    s.write(msg);
  });
}

async function load(
  n: number,
  workers: number,
  during?: (i: number) => Promise<void> | void,
): Promise<{ ok: number; failed: string[] }> {
  let i = 0;
  let ok = 0;
  const failed: string[] = [];
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (i < n) {
        const k = i++;
        if (during) await during(k);
        try {
          const r = await get(a.svcTwin(20), 8000);
          if (r.status === 200) ok++;
          else failed.push(`status ${r.status}`);
        } catch (e) {
          failed.push((e as Error).message);
        }
      }
    }),
  );
  return { ok, failed };
}

describe('resilience', () => {
  let rt: Runtime;
  const c = writeCluster(cluster(3));
  const mem = memoryLogger('info');
  beforeAll(async () => {
    rt = await up({
      files: [c.file],
      logger: mem.logger,
      timings: { backoffInitialMs: 60_000 },
      watchDebounceMs: 50,
    });
  });
  afterAll(async () => {
    await rt?.stop();
  });

  it('a manifest change under load drops no established connection', async () => {
    const conns = await Promise.all(Array.from({ length: 6 }, () => dial(a.svcTwin(20), 8000)));
    for (const s of conns) expect(await roundTrip(s, 'before')).toBe('before');
    const res = load(60, 4, (k) => {
      if (k === 10) c.write(cluster(4, service('extra', { ip: a.svcIP(30), port: 8100, selector: 'web' })));
    });
    await waitFor(() => rt.listeners().some((l) => l.servicePort === 'default/extra:http'), 'reload');
    const r = await res;
    expect(r.failed).toEqual([]);
    await waitFor(() => rt.pods().length === 4 && rt.pods().every((p) => p.ready), 'fourth pod');
    for (const s of conns) expect(await roundTrip(s, 'after')).toBe('after');
    expect((await get(a.svcTwin(30), 8100)).status).toBe(200);
    for (const s of conns) s.destroy();
  });

  it('a bad manifest on reload is logged and the old cluster keeps serving', async () => {
    c.write(
      `${cluster(4)}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: broken\nspec:\n  ports:\n    - port: 99999\n`,
    );
    await waitFor(
      () => mem.lines().some((l) => l.msg === 'manifests rejected; still serving the previous cluster'),
      'reload error',
    );
    expect((await get(a.svcTwin(20), 8000)).status).toBe(200);
    expect(rt.listeners().some((l) => l.servicePort === 'default/extra:http')).toBe(true);
    c.write(cluster(4, service('extra', { ip: a.svcIP(30), port: 8100, selector: 'web' })));
  });

  it('killing a backend under load: no new connection fails, in-flight ones to it are closed', async () => {
    await waitFor(() => rt.pods().length === 4 && rt.pods().every((p) => p.ready), 'pods ready');
    const conns = await Promise.all(Array.from({ length: 4 }, () => dial(a.svcTwin(20), 8000)));
    for (const s of conns) await roundTrip(s, 'hi');
    const endpointOf = (port: number) => rt.conntrack.list().find((e) => e.original.sport === port)?.endpoint;
    const victimEp = endpointOf(conns[0]!.localPort!)!;
    const victim = rt.pods().find((p) => victimEp.startsWith(`${p.podIP}:`))!;
    const toVictim = conns.filter((s) => endpointOf(s.localPort!) === victimEp);
    const others = conns.filter((s) => endpointOf(s.localPort!) !== victimEp);
    const endings = toVictim.map(ending);
    const r = await load(80, 4, (k) => {
      if (k === 20) rt.kill(victim.pod);
    });
    expect(r.failed).toEqual([]);
    expect(r.ok).toBe(80);
    for (const how of await Promise.all(endings)) expect(['reset', 'end']).toContain(how);
    for (const s of others) expect(await roundTrip(s, 'still')).toBe('still');
    await waitFor(() => rt.pods().find((p) => p.pod === victim.pod)?.ready === false, 'victim not ready');
    const eps = rt.mode!.endpoints().find((e) => e.servicePort === 'default/web:http')!;
    expect(eps.endpoints).not.toContain(victimEp);
    for (const s of others) s.destroy();
  });

  it('a slow reader does not grow the proxy memory: buffers stay bounded, then all bytes arrive', async () => {
    await expectSlowReaderBounded(rt, a.svcTwin(20), 8000, 400);
  });
});
