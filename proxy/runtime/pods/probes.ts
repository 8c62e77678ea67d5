/**
 * Readiness and liveness probes, run for real against the pod's loopback twin: tcpSocket (connect),
 * httpGet (status 200-399), exec (exit status 0). kubelet's fields and defaults: initialDelaySeconds 0,
 * periodSeconds 10, timeoutSeconds 1, failureThreshold 3, successThreshold 1. `timeScale` multiplies
 * every duration (tests run probes ten times faster with 0.1).
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { connect } from 'node:net';
import type { Container } from '../../../netmodel/cluster/index.js';

export interface ProbeSpec {
  readonly action:
    | { kind: 'tcp'; port: number }
    | { kind: 'http'; port: number; path: string }
    | { kind: 'exec'; command: readonly string[] };
  readonly initialDelayMs: number;
  readonly periodMs: number;
  readonly timeoutMs: number;
  readonly failureThreshold: number;
  readonly successThreshold: number;
}

const num = (v: unknown, def: number) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : def);

function resolvePort(v: unknown, c: Container): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    if (/^\d+$/.test(v)) return Number(v);
    return c.ports.find((p) => p.name === v)?.containerPort;
  }
  return undefined;
}

/** The probe, or a string saying why it cannot run. */
export function parseProbe(
  raw: Readonly<Record<string, unknown>>,
  c: Container,
  timeScale: number,
): ProbeSpec | string {
  const sec = (k: string, def: number) => num(raw[k], def) * 1000 * timeScale;
  const base = {
    initialDelayMs: sec('initialDelaySeconds', 0),
    periodMs: Math.max(1, sec('periodSeconds', 10)),
    timeoutMs: Math.max(1, sec('timeoutSeconds', 1)),
    failureThreshold: Math.max(1, num(raw.failureThreshold, 3)),
    successThreshold: Math.max(1, num(raw.successThreshold, 1)),
  };
  const tcp = raw.tcpSocket as Record<string, unknown> | undefined;
  const http = raw.httpGet as Record<string, unknown> | undefined;
  const exec = raw.exec as Record<string, unknown> | undefined;
  if (tcp) {
    const port = resolvePort(tcp.port, c);
    return port
      ? { ...base, action: { kind: 'tcp', port } }
      : `tcpSocket.port ${String(tcp.port)} names no container port`;
  }
  if (http) {
    const port = resolvePort(http.port, c);
    if (!port) return `httpGet.port ${String(http.port)} names no container port`;
    if (http.scheme === 'HTTPS') return 'httpGet with scheme HTTPS is not supported';
    return {
      ...base,
      action: { kind: 'http', port, path: typeof http.path === 'string' ? http.path : '/' },
    };
  }
  if (exec && Array.isArray(exec.command) && exec.command.length > 0) {
    return { ...base, action: { kind: 'exec', command: exec.command.map(String) } };
  }
  return 'the probe has no tcpSocket, httpGet or exec (grpc probes are not supported)';
}

/** Run the probe action once. */
export function probeOnce(spec: ProbeSpec, host: string, env: Record<string, string>): Promise<boolean> {
  const a = spec.action;
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(ok);
    };
    const timer = setTimeout(() => {
      cleanup();
      finish(false);
    }, spec.timeoutMs);
    let cleanup = () => {};
    if (a.kind === 'tcp') {
      const s = connect({ host, port: a.port });
      cleanup = () => s.destroy();
      s.once('connect', () => {
        s.destroy();
        finish(true);
      });
      s.once('error', () => finish(false));
    } else if (a.kind === 'http') {
      const req = request(
        {
          host,
          port: a.port,
          path: a.path,
          method: 'GET',
          headers: { 'user-agent': 'kube-probe/1.30', connection: 'close' },
        },
        (res) => {
          res.resume();
          finish((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
        },
      );
      cleanup = () => req.destroy();
      req.once('error', () => finish(false));
      req.end();
    } else {
      const p = spawn(a.command[0]!, a.command.slice(1), { env, stdio: 'ignore' });
      cleanup = () => p.kill('SIGKILL');
      p.once('error', () => finish(false));
      p.once('exit', (code) => finish(code === 0));
    }
  });
}

/** Runs one probe on a timer and reports each change of its verdict. */
export class ProbeRunner {
  private timer: NodeJS.Timeout | undefined;
  private successes = 0;
  private failures = 0;
  private stopped = false;
  ok: boolean;

  constructor(
    private readonly spec: ProbeSpec,
    private readonly host: string,
    private readonly env: Record<string, string>,
    initial: boolean,
    private readonly onChange: (ok: boolean) => void,
  ) {
    this.ok = initial;
  }

  start(): void {
    this.timer = setTimeout(() => void this.tick(), this.spec.initialDelayMs);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const ok = await probeOnce(this.spec, this.host, this.env);
    if (this.stopped) return;
    if (ok) {
      this.failures = 0;
      this.successes++;
      if (!this.ok && this.successes >= this.spec.successThreshold) {
        this.ok = true;
        this.onChange(true);
      }
    } else {
      this.successes = 0;
      this.failures++;
      if (this.ok && this.failures >= this.spec.failureThreshold) {
        this.ok = false;
        this.onChange(false);
      }
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.tick(), this.spec.periodMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
