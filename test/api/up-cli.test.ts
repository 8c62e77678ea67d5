/** `kpath up` wires the API: the kubeconfig it writes reaches the API; a non-loopback address is refused before anything binds. */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import * as upCmd from '../../cli/commands/up.js';
import { bufferIO } from '../../cli/io.js';
import { baseCluster, echoDeployment } from '../up/helpers.js';
import { eventually } from './helpers.js';

const SLOT = 34;
const common = {
  healthAddress: '127.0.0.1:0',
  metricsAddress: '127.0.0.1:0',
  logLevel: 'silent',
  drainTimeout: 1,
  idleTimeout: 0,
  maxConnections: 0,
  watch: false,
};

function getJson(
  server: string,
  ca: string,
  token: string,
  path: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const u = new URL(server);
  return new Promise((resolve, reject) => {
    request(
      { host: u.hostname, port: Number(u.port), path, ca, headers: { Authorization: `Bearer ${token}` } },
      (res) => {
        let t = '';
        res.on('data', (d: Buffer) => {
          t += d.toString();
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(t) as Record<string, unknown> }),
        );
      },
    )
      .on('error', reject)
      .end();
  });
}

describe('kpath up with the API', () => {
  it('writes a kubeconfig whose server, CA and token answer; stops cleanly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpath-up-api-'));
    const file = join(dir, 'c.yaml');
    writeFileSync(file, baseCluster(SLOT, echoDeployment('web', 1)));
    const kc = join(dir, 'kc');
    const io = bufferIO(dir);
    let stop!: () => void;
    const until = new Promise<void>((r) => {
      stop = r;
    });
    const code = upCmd.run(
      {
        ...common,
        f: [file],
        apiAddress: '127.0.0.1:0',
        kubeconfig: kc,
        state: join(dir, 'state'),
        fresh: false,
      },
      io,
      until,
    );
    await eventually(
      () => existsSync(kc) && io.stderr().includes('Kubernetes API'),
      'the kubeconfig',
      20_000,
    );
    const cfg = parse(readFileSync(kc, 'utf8'));
    expect(cfg['current-context']).toBe('kpath');
    const cluster = cfg.clusters[0].cluster;
    expect(cluster.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const ca = Buffer.from(cluster['certificate-authority-data'], 'base64').toString();
    const r = await getJson(
      cluster.server,
      ca,
      cfg.users[0].user.token,
      '/apis/apps/v1/namespaces/default/deployments/web',
    );
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ kind: 'Deployment', metadata: { name: 'web' } });
    expect(io.stderr()).toContain(`export KUBECONFIG=${kc}`);
    stop();
    expect(await code).toBe(0);
  }, 30_000);

  it('refuses a non-loopback --api-address with exit 2, binding nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpath-up-api-'));
    const io = bufferIO(dir);
    const code = await upCmd.run(
      { ...common, apiAddress: '10.0.0.1:6443', state: join(dir, 'state'), kubeconfig: join(dir, 'kc') },
      io,
    );
    expect(code).toBe(2);
    expect(io.stderr()).toContain('the API serves on loopback only');
    expect(existsSync(join(dir, 'kc'))).toBe(false);
  });
});
