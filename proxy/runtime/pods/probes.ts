/**
 * Readiness and liveness probes, run for real against the pod's loopback twin: tcpSocket (connect),
 * httpGet (status 200-399), grpc (the gRPC health checking protocol: Check answers SERVING), exec
 * (exit status 0). A failure carries kubelet's words for why (connection refused, HTTP status ...). kubelet's fields and defaults: initialDelaySeconds 0,
 * periodSeconds 10, timeoutSeconds 1, failureThreshold 3, successThreshold 1. `timeScale` multiplies
 * every duration (tests run probes ten times faster with 0.1).
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { connect as h2connect } from 'node:http2';
import { connect } from 'node:net';
import type { Container } from '../../../netmodel/cluster/index.js';

export interface ProbeSpec {
  readonly action:
    | { kind: 'tcp'; port: number }
    | { kind: 'http'; port: number; path: string }
    | { kind: 'grpc'; port: number; service: string }
    | { kind: 'exec'; command: readonly string[] }
    /** A probe kubelet cannot run (a named port no container port has): it fails every time. */
    | { kind: 'error'; reason: string };
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

/**
 * A named probe port the container does not declare: kubelet's prober cannot resolve it
 * (probe.ResolveContainerPort: "couldn't find port"), the probe errors and counts as a failure, so
 * a readiness probe keeps the pod out of its Services for good.
 */
function portNotFound(name: string, c: Container): { kind: 'error'; reason: string } {
  return { kind: 'error', reason: `couldn't find port: ${name} in container ${c.name}` };
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
  const grpc = raw.grpc as Record<string, unknown> | undefined;
  if (grpc) {
    const port = typeof grpc.port === 'number' ? grpc.port : undefined;
    if (!port) return `grpc.port ${String(grpc.port)} must be a port number`;
    return {
      ...base,
      action: { kind: 'grpc', port, service: typeof grpc.service === 'string' ? grpc.service : '' },
    };
  }
  if (tcp) {
    const port = resolvePort(tcp.port, c);
    if (!port && typeof tcp.port === 'string') return { ...base, action: portNotFound(tcp.port, c) };
    return port
      ? { ...base, action: { kind: 'tcp', port } }
      : `tcpSocket.port ${String(tcp.port)} names no container port`;
  }
  if (http) {
    const port = resolvePort(http.port, c);
    if (!port && typeof http.port === 'string') return { ...base, action: portNotFound(http.port, c) };
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
  return 'the probe has no tcpSocket, httpGet, grpc or exec';
}

/** The ports a probe connects to (the built-in echo server answers on them). */
export function probePort(spec: ProbeSpec): number | undefined {
  return spec.action.kind === 'exec' || spec.action.kind === 'error' ? undefined : spec.action.port;
}

export interface ProbeResult {
  readonly ok: boolean;
  /** Why it failed, in kubelet's words (`dial tcp 10.244.1.5:10254: connect: connection refused`). */
  readonly reason?: string;
}

function dialError(e: NodeJS.ErrnoException, where: string): string {
  if (e.code === 'ECONNREFUSED') return `dial tcp ${where}: connect: connection refused`;
  if (e.code === 'ECONNRESET') return `read tcp ${where}: connection reset by peer`;
  return `dial tcp ${where}: ${e.code ?? e.message}`;
}

/** The gRPC health protocol's HealthCheckRequest {service} as a length-prefixed gRPC message. */
function grpcHealthRequest(service: string): Buffer {
  const name = Buffer.from(service, 'utf8');
  const msg = name.length ? Buffer.concat([Buffer.from([0x0a, name.length]), name]) : Buffer.alloc(0);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(msg.length, 1);
  return Buffer.concat([head, msg]);
}

/** HealthCheckResponse.status from a gRPC message body (field 1, varint); 0 (UNKNOWN) when absent. */
export function grpcHealthStatus(body: Buffer): number {
  if (body.length < 5) return 0;
  const msg = body.subarray(5, 5 + body.readUInt32BE(1));
  return msg[0] === 0x08 && msg.length > 1 ? msg[1]! : 0;
}

const HEALTH_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

/** Run the probe action once; `display` is the pod IP used in failure reasons. */
export function probeWithReason(
  spec: ProbeSpec,
  host: string,
  env: Record<string, string>,
  display = host,
): Promise<ProbeResult> {
  const a = spec.action;
  if (a.kind === 'error') return Promise.resolve({ ok: false, reason: a.reason });
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok: boolean, reason?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      cleanup();
      resolve(ok ? { ok } : { ok, reason: reason ?? 'failed' });
    };
    const secs = `${spec.timeoutMs / 1000}s`;
    let cleanup = () => {};
    const timer = setTimeout(() => {
      const where = a.kind === 'exec' ? '' : `${display}:${a.port}`;
      finish(
        false,
        a.kind === 'http'
          ? `Get "http://${where}${a.path}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`
          : a.kind === 'exec'
            ? `command timed out after ${secs}`
            : a.kind === 'grpc'
              ? `timeout: health rpc did not complete within ${secs}`
              : `dial tcp ${where}: i/o timeout`,
      );
    }, spec.timeoutMs);
    if (a.kind === 'tcp') {
      const s = connect({ host, port: a.port });
      cleanup = () => s.destroy();
      s.once('connect', () => finish(true));
      s.once('error', (e: NodeJS.ErrnoException) => finish(false, dialError(e, `${display}:${a.port}`)));
    } else if (a.kind === 'http') {
      const url = `http://${display}:${a.port}${a.path}`;
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
          const code = res.statusCode ?? 0;
          finish(code >= 200 && code < 400, `HTTP probe failed with statuscode: ${code}`);
        },
      );
      cleanup = () => req.destroy();
      req.once('error', (e: NodeJS.ErrnoException) =>
        finish(false, `Get "${url}": ${dialError(e, `${display}:${a.port}`)}`),
      );
      req.end();
    } else if (a.kind === 'grpc') {
      const session = h2connect(`http://${host}:${a.port}`);
      cleanup = () => session.destroy();
      session.once('error', (e: NodeJS.ErrnoException) =>
        finish(
          false,
          `timeout: failed to connect service "${display}:${a.port}" within ${secs}: ${dialError(e, `${display}:${a.port}`)}`,
        ),
      );
      const req = session.request({
        ':method': 'POST',
        ':path': '/grpc.health.v1.Health/Check',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.once('error', (e: Error) => finish(false, `health rpc failed: ${e.message}`));
      let grpcStatus: string | undefined;
      req.once('trailers', (t) => {
        grpcStatus = String(t['grpc-status'] ?? '');
      });
      req.once('response', (h) => {
        if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']);
      });
      req.once('end', () => {
        if (grpcStatus && grpcStatus !== '0') {
          finish(false, `health rpc failed with grpc-status ${grpcStatus}`);
          return;
        }
        const st = grpcHealthStatus(Buffer.concat(chunks));
        finish(st === 1, `service unhealthy (responded with "${HEALTH_STATUS[st] ?? st}")`);
      });
      req.end(grpcHealthRequest(a.service));
    } else {
      const p = spawn(a.command[0]!, a.command.slice(1), { env, stdio: 'ignore' });
      cleanup = () => p.kill('SIGKILL');
      p.once('error', (e: NodeJS.ErrnoException) =>
        finish(false, `cannot run ${a.command[0]}: ${e.code ?? e.message}`),
      );
      p.once('exit', (code) =>
        finish(code === 0, `command ${JSON.stringify(a.command.join(' '))} exited with ${code}`),
      );
    }
  });
}

/** Run the probe action once: passed or not. */
export async function probeOnce(
  spec: ProbeSpec,
  host: string,
  env: Record<string, string>,
): Promise<boolean> {
  return (await probeWithReason(spec, host, env)).ok;
}

/** Runs one probe on a timer and reports each change of its verdict. */
export class ProbeRunner {
  private timer: NodeJS.Timeout | undefined;
  private successes = 0;
  private failures = 0;
  private stopped = false;
  ok: boolean;

  /** Why the last failed attempt failed. */
  lastFailure: string | undefined;

  constructor(
    private readonly spec: ProbeSpec,
    private readonly host: string,
    private readonly env: Record<string, string>,
    initial: boolean,
    private readonly onChange: (ok: boolean, reason?: string) => void,
    private readonly display = host,
  ) {
    this.ok = initial;
  }

  start(): void {
    this.timer = setTimeout(() => void this.tick(), this.spec.initialDelayMs);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const { ok, reason } = await probeWithReason(this.spec, this.host, this.env, this.display);
    if (this.stopped) return;
    const previousFailure = this.lastFailure;
    this.lastFailure = ok ? undefined : reason;
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
        this.onChange(false, reason);
      } else if (!this.ok && reason !== previousFailure) {
        // Still failing (a readiness probe starts failed): say so once per new reason.
        this.onChange(false, reason);
      }
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.tick(), this.spec.periodMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
