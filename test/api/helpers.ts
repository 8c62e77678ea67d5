/**
 * The API tests drive the real kubectl against an in-process `kpath up` (runtime + API server on an
 * ephemeral loopback port, state and kubeconfig in a temporary directory), as cli/commands/up.ts
 * wires them. kubectl is not in Debian bookworm's main archive: where it is missing, the kubectl
 * tests skip with that reason (the HTTPS tests still run).
 */
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import pino from 'pino';
import { ApiService } from '../../proxy/api/index.js';
import { type Runtime, startRuntime } from '../../proxy/runtime/index.js';

function findKubectl(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, 'kubectl');
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

export const KUBECTL = findKubectl();
export const NO_KUBECTL =
  'kubectl is not installed: it is not in Debian bookworm main (CI installs it where it can, see .ci/run)';

export interface Cluster {
  readonly dir: string;
  readonly file: string;
  readonly stateDir: string;
  readonly kubeconfig: string;
  readonly rt: Runtime;
  readonly api: ApiService;
  /** Run kubectl; resolves with its exit code and output (never rejects on a non-zero exit). */
  kubectl(args: readonly string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }>;
  /** One HTTPS request to the API (token sent unless `token` is given, '' for none). */
  call(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
    token?: string,
  ): Promise<ApiReply>;
  stop(): Promise<void>;
}

export interface ApiReply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  json(): Record<string, unknown>;
}

export async function startCluster(
  yaml: string,
  opts: { dir?: string; fresh?: boolean; watch?: boolean } = {},
): Promise<Cluster> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'kpath-api-'));
  const file = join(dir, 'cluster.yaml');
  if (!opts.dir) writeFileSync(file, yaml);
  const stateDir = join(dir, 'state');
  const kubeconfig = join(dir, 'kubeconfig');
  const log = pino({ level: 'silent' });
  const api = await ApiService.prepare({
    host: '127.0.0.1',
    port: 0,
    stateDir,
    kubeconfig,
    fresh: opts.fresh ?? false,
    log,
    bookmarkMs: 200,
  });
  const rt = startRuntime({
    files: [file],
    health: { host: '127.0.0.1', port: 0 },
    metrics: { host: '127.0.0.1', port: 0 },
    seed: 42,
    logger: log,
    watch: opts.watch ?? false,
    watchDebounceMs: 50,
    drainTimeoutMs: 200,
    build: api.build,
  });
  api.attach(rt);
  await rt.ready;
  await api.start();
  const env = { ...process.env, KUBECONFIG: kubeconfig, HOME: dir };
  const ca = api.credentials.caPem;
  const url = new URL(api.url);
  return {
    dir,
    file,
    stateDir,
    kubeconfig,
    rt,
    api,
    kubectl(args, input) {
      return runKubectl(env, args, input);
    },
    call(method, path, body, headers = {}, token = api.credentials.token) {
      return new Promise((resolve, reject) => {
        const data =
          body === undefined
            ? undefined
            : typeof body === 'string' || Buffer.isBuffer(body)
              ? body
              : JSON.stringify(body);
        const req = request(
          {
            host: url.hostname,
            port: Number(url.port),
            path,
            method,
            ca,
            headers: {
              ...(token ? { Authorization: `Bearer ${token}` } : {}),
              ...(data !== undefined ? { 'Content-Type': 'application/json' } : {}),
              Accept: 'application/json',
              ...headers,
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString();
              resolve({
                status: res.statusCode ?? 0,
                headers: res.headers,
                text,
                json: () => JSON.parse(text) as Record<string, unknown>,
              });
            });
          },
        );
        req.on('error', reject);
        req.end(data);
      });
    },
    async stop() {
      await api.stop();
      await rt.stop();
    },
  };
}

/** A long-running kubectl (get -w): its output so far, and a stop. */
/** The real kubectl with this environment (its KUBECONFIG): exit code and output, never a throw. */
export function runKubectl(
  env: NodeJS.ProcessEnv,
  args: readonly string[],
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    if (!KUBECTL) {
      reject(new Error(NO_KUBECTL));
      return;
    }
    const child = execFile(KUBECTL, [...args], { env, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === 'number'
          ? (err as { code: number }).code
          : 1
        : 0;
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

export function kubectlStream(
  c: Cluster,
  args: readonly string[],
): { output: () => string; stop: () => void } {
  if (!KUBECTL) throw new Error(NO_KUBECTL);
  const child = spawn(KUBECTL, [...args], { env: { ...process.env, KUBECONFIG: c.kubeconfig, HOME: c.dir } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return { output: () => out, stop: () => child.kill('SIGTERM') };
}

export async function eventually<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  ms = 10_000,
): Promise<T> {
  const t0 = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() - t0 > ms)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
