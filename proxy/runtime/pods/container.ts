/**
 * One container of a running pod: the built-in echo server, or a real child process (`command`,
 * `args`). It restarts as kubelet would (restartPolicy Always: any exit; OnFailure: non-zero exit;
 * Never: never) after a back-off that starts at backoffInitialMs and doubles to backoffMaxMs, reset
 * once the container has run for backoffResetMs. Readiness and liveness probes run while it runs; a
 * container is ready when it runs and its readiness probe (if any) passes; a liveness failure kills it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Logger } from 'pino';
import type { Container, Pod } from '../../../netmodel/cluster/index.js';
import type { TwinMap } from '../../../netmodel/twins.js';
import { DnsContainer, type DnsSource, dnsPorts, isDnsImage } from './dns.js';
import { EchoContainer, type PodIdentity } from './echo.js';
import { ProbeRunner, type ProbeSpec, parseProbe, probePort } from './probes.js';

export interface ContainerTimings {
  readonly backoffInitialMs: number;
  readonly backoffMaxMs: number;
  readonly backoffResetMs: number;
  /** SIGTERM to SIGKILL when a process container is stopped. */
  readonly killGraceMs: number;
  /** Multiplies probe durations. */
  readonly probeTimeScale: number;
}

export interface ContainerStatus {
  readonly name: string;
  readonly kind: 'echo' | 'process' | 'dns';
  readonly state: 'running' | 'waiting' | 'terminated';
  readonly ready: boolean;
  readonly restarts: number;
  readonly pid?: number;
  readonly lastExit?: string;
}

export class ContainerRunner {
  private echo: EchoContainer | undefined;
  private dns: DnsContainer | undefined;
  private child: ChildProcess | undefined;
  private readiness: ProbeRunner | undefined;
  private liveness: ProbeRunner | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private running = false;
  private stopping = false;
  private restarts = 0;
  private backoffMs = 0;
  private startedAt = 0;
  private lastExit: string | undefined;
  private readonly readinessSpec: ProbeSpec | undefined;
  private readonly livenessSpec: ProbeSpec | undefined;
  readonly kind: 'echo' | 'process' | 'dns';

  constructor(
    private readonly pod: Pod,
    private readonly c: Container,
    private readonly id: PodIdentity,
    private readonly twins: TwinMap,
    private readonly env: Record<string, string>,
    private readonly t: ContainerTimings,
    private readonly log: Logger,
    private readonly onChange: () => void,
    private readonly dnsSource?: DnsSource,
    /** May this container run host processes (its command, exec probes)? See execAllowed. */
    exec = true,
  ) {
    this.kind =
      exec && c.command && c.command.length > 0
        ? 'process'
        : dnsSource && isDnsImage(c.image) && dnsPorts(c.ports).length > 0
          ? 'dns'
          : 'echo';
    const probe = (raw: Readonly<Record<string, unknown>> | undefined, what: string) => {
      if (!raw) return undefined;
      const p = parseProbe(raw, c, t.probeTimeScale);
      if (typeof p !== 'string' && p.action.kind === 'exec' && !exec) return undefined; // named in the exec warning
      if (typeof p === 'string') {
        log.warn({ container: c.name, probe: what }, `${what} ignored: ${p}`);
        return undefined;
      }
      return p;
    };
    this.readinessSpec = probe(c.readinessProbe, 'readinessProbe');
    this.livenessSpec = probe(c.livenessProbe, 'livenessProbe');
  }

  /**
   * Ports this container's probes reach that no container of the pod declares: the built-in echo
   * server answers them too, so a chart's probes (coredns's :8181/ready, a controller's :10254/healthz,
   * a gRPC health port) pass as the real program's would.
   */
  private probeOnlyPorts(): { name: string; containerPort: number; protocol: 'TCP' }[] {
    const declared = new Set(this.pod.containers.flatMap((c) => c.ports.map((p) => p.containerPort)));
    const out = new Map<number, { name: string; containerPort: number; protocol: 'TCP' }>();
    for (const spec of [this.readinessSpec, this.livenessSpec]) {
      const port = spec ? probePort(spec) : undefined;
      if (port && !declared.has(port)) out.set(port, { name: '', containerPort: port, protocol: 'TCP' });
    }
    return [...out.values()];
  }

  get ready(): boolean {
    return this.running && (this.readiness ? this.readiness.ok : true);
  }

  status(): ContainerStatus {
    return {
      name: this.c.name,
      kind: this.kind,
      state: this.running ? 'running' : this.restartTimer ? 'waiting' : 'terminated',
      ready: this.ready,
      restarts: this.restarts,
      ...(this.child?.pid && this.running ? { pid: this.child.pid } : {}),
      ...(this.lastExit ? { lastExit: this.lastExit } : {}),
    };
  }

  /** First start. An echo container that cannot bind throws (the address is named in the error). */
  async start(): Promise<void> {
    await this.run();
  }

  private async run(): Promise<void> {
    this.restartTimer = undefined;
    if (this.stopping) return;
    if (this.kind === 'echo' || this.kind === 'dns') {
      const dnsOnly = this.kind === 'dns' ? new Set(dnsPorts(this.c.ports)) : new Set<number>();
      const echoPorts = [
        ...this.c.ports.filter((p) => !dnsOnly.has(p.containerPort)),
        ...this.probeOnlyPorts(),
      ];
      const echo = new EchoContainer(this.id, this.c.name, echoPorts, this.twins);
      await echo.start();
      this.echo = echo;
      if (this.kind === 'dns') {
        const dns = new DnsContainer(
          this.id.loopbackIP,
          [...dnsOnly],
          this.dnsSource!,
          this.log.child({ container: this.c.name }),
        );
        try {
          await dns.start();
        } catch (e) {
          this.echo = undefined;
          await echo.stop();
          throw e;
        }
        this.dns = dns;
      }
    } else {
      const [cmd, ...rest] = this.c.command!;
      const child = spawn(cmd!, [...rest, ...(this.c.args ?? [])], {
        env: this.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      this.child = child;
      for (const [name, stream] of [
        ['stdout', child.stdout],
        ['stderr', child.stderr],
      ] as const) {
        let buf = '';
        stream?.setEncoding('utf8');
        stream?.on('data', (d: string) => {
          buf += d;
          let i = buf.indexOf('\n');
          while (i >= 0) {
            this.log.info({ container: this.c.name, stream: name }, buf.slice(0, i));
            buf = buf.slice(i + 1);
            i = buf.indexOf('\n');
          }
          if (buf.length > 8192) buf = buf.slice(-8192);
        });
      }
      child.once('error', (e: NodeJS.ErrnoException) => {
        this.log.error(
          { container: this.c.name, err: e.message },
          `cannot start ${cmd}: ${e.code ?? e.message}`,
        );
        this.exited(127, e.code ?? 'error');
      });
      child.once('exit', (code, signal) =>
        this.exited(code ?? 128, signal ? `signal ${signal}` : `exit code ${code}`),
      );
    }
    this.running = true;
    this.startedAt = Date.now();
    this.log.info(
      { container: this.c.name, kind: this.kind, restarts: this.restarts, pid: this.child?.pid },
      this.restarts ? 'container restarted' : 'container started',
    );
    if (this.readinessSpec) {
      this.readiness = new ProbeRunner(
        this.readinessSpec,
        this.id.loopbackIP,
        this.env,
        false,
        (ok, reason) => {
          if (ok) this.log.info({ container: this.c.name, ready: ok }, 'readiness probe succeeded');
          else
            this.log.warn({ container: this.c.name, ready: ok, reason }, `Readiness probe failed: ${reason}`);
          this.onChange();
        },
        this.id.podIP,
      );
      this.readiness.start();
    }
    if (this.livenessSpec) {
      this.liveness = new ProbeRunner(
        this.livenessSpec,
        this.id.loopbackIP,
        this.env,
        true,
        (ok, reason) => {
          if (!ok) {
            this.log.warn(
              { container: this.c.name, reason },
              `Liveness probe failed: ${reason}; killing the container`,
            );
            this.kill(`liveness probe failed: ${reason}`);
          }
        },
        this.id.podIP,
      );
      this.liveness.start();
    }
    this.onChange();
  }

  private stopProbes(): void {
    this.readiness?.stop();
    this.liveness?.stop();
    this.readiness = undefined;
    this.liveness = undefined;
  }

  private exited(code: number, how: string): void {
    if (!this.running && this.kind === 'process' && !this.child) return;
    this.running = false;
    this.child = undefined;
    this.stopProbes();
    this.lastExit = how;
    this.onChange();
    if (this.stopping) return;
    const policy = this.pod.restartPolicy;
    const restart = policy === 'Always' || (policy === 'OnFailure' && code !== 0);
    if (!restart) {
      this.log.info(
        { container: this.c.name, how, restartPolicy: policy },
        'container terminated; not restarted',
      );
      return;
    }
    if (Date.now() - this.startedAt >= this.t.backoffResetMs) this.backoffMs = 0;
    this.backoffMs =
      this.backoffMs === 0 ? this.t.backoffInitialMs : Math.min(this.backoffMs * 2, this.t.backoffMaxMs);
    this.log.warn(
      { container: this.c.name, how, backoffMs: this.backoffMs },
      'container exited; back-off restarting',
    );
    this.restartTimer = setTimeout(() => {
      this.restarts++;
      this.run().catch((e: Error) => {
        this.log.error({ container: this.c.name, err: e.message }, 'container failed to start');
        this.exited(1, e.message);
      });
    }, this.backoffMs);
  }

  /** Kill the container as a crash would (it restarts per restartPolicy). */
  kill(reason = 'killed'): void {
    if (!this.running) return;
    if (this.kind === 'echo' || this.kind === 'dns') {
      const echo = this.echo;
      const dns = this.dns;
      this.echo = undefined;
      this.dns = undefined;
      void echo?.stop();
      void dns?.stop();
      this.exited(137, reason);
    } else {
      this.child?.kill('SIGKILL');
    }
  }

  /** Stop for good (pod removed or runtime stopping). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.stopProbes();
    if (this.echo || this.dns) {
      const echo = this.echo;
      const dns = this.dns;
      this.echo = undefined;
      this.dns = undefined;
      this.running = false;
      await Promise.all([echo?.stop(), dns?.stop()]);
      this.onChange();
    }
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => child.kill('SIGKILL'), this.t.killGraceMs);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        child.kill('SIGTERM');
      });
    }
    this.running = false;
  }
}
