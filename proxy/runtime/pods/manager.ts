/**
 * Runs the pods of a snapshot: every pod with an IPv4 address that has a loopback twin, scheduled
 * and not Succeeded/Failed, gets its containers started on its twin. Reconciling keeps pods whose
 * spec is unchanged (readiness changes are not spec changes), restarts changed ones and stops
 * removed ones. A pod is ready when the model says so and all its containers are ready.
 */
import type { Logger } from 'pino';
import type { ClusterSnapshot, Pod } from '../../../netmodel/cluster/index.js';
import type { KpathError } from '../../../netmodel/errors.js';
import type { TwinMap } from '../../../netmodel/twins.js';
import { ContainerRunner, type ContainerStatus, type ContainerTimings } from './container.js';
import type { DnsSource } from './dns.js';
import { containerEnv } from './env.js';

interface Running {
  readonly fp: string;
  readonly pod: Pod;
  readonly containers: ContainerRunner[];
  readonly loopbackIP: string;
}

export interface PodStatus {
  readonly pod: string;
  readonly node: string;
  readonly podIP: string;
  readonly loopbackIP: string;
  readonly ready: boolean;
  readonly containers: readonly ContainerStatus[];
}

/** The annotation by which a user lets one pod run its containers' commands without --exec. */
export const EXEC_ANNOTATION = 'kpath.dev/exec';

/** Whether `pod` may run host processes: --exec for every pod, or the pod's kpath.dev/exec: "true". */
export function execAllowed(pod: Pod, execAll: boolean): boolean {
  return execAll || pod.meta.annotations[EXEC_ANNOTATION] === 'true';
}

/** What would run on the host if allowed: `command`s and exec probes, as `ns/pod/container: what`. */
export function hostCommands(pod: Pod): string[] {
  const out: string[] = [];
  const key = `${pod.meta.namespace}/${pod.meta.name}`;
  for (const c of pod.containers) {
    if (c.command && c.command.length > 0) out.push(`${key}/${c.name}: command ${c.command.join(' ')}`);
    for (const [what, probe] of [
      ['readinessProbe', c.readinessProbe],
      ['livenessProbe', c.livenessProbe],
    ] as const) {
      const exec = (probe as { exec?: { command?: unknown } } | undefined)?.exec;
      if (exec && Array.isArray(exec.command))
        out.push(`${key}/${c.name}: ${what} exec ${exec.command.join(' ')}`);
    }
  }
  return out;
}

function specFingerprint(p: Pod, execAll: boolean): string {
  return JSON.stringify({
    exec: execAllowed(p, execAll),
    ip: p.podIPs.map((x) => x.text),
    node: p.nodeName,
    hostNetwork: p.hostNetwork,
    restartPolicy: p.restartPolicy,
    containers: p.containers,
  });
}

export class PodManager {
  private readonly running = new Map<string, Running>();

  constructor(
    private readonly twins: () => TwinMap,
    private readonly timings: ContainerTimings,
    private readonly log: Logger,
    private readonly onReadinessChange: () => void,
    private readonly baseEnv: Readonly<Record<string, string | undefined>> = process.env,
    private readonly dnsSource?: DnsSource,
    /** --exec: every pod may run its commands as host processes. */
    private readonly execAll = false,
  ) {}

  /** Commands already named in a warning (so a reload does not repeat it). */
  private readonly warnedExec = new Set<string>();

  private wanted(snap: ClusterSnapshot): Map<string, { pod: Pod; loopbackIP: string; nodeIP: string }> {
    const out = new Map<string, { pod: Pod; loopbackIP: string; nodeIP: string }>();
    for (const pod of snap.pods) {
      if (!pod.nodeName || pod.phase === 'Succeeded' || pod.phase === 'Failed') continue;
      const ip = pod.podIPs.find((x) => x.family === 4);
      const lb = ip ? this.twins().toLoopback(ip) : undefined;
      if (!ip || !lb) continue;
      const node = snap.node(pod.nodeName);
      const nodeIP = node?.internalIPs.find((x) => x.family === 4)?.text ?? '';
      out.set(`${pod.meta.namespace}/${pod.meta.name}`, { pod, loopbackIP: lb.text, nodeIP });
    }
    return out;
  }

  /** Start pods that are new or whose spec changed (the old copy is stopped first). */
  async startNew(snap: ClusterSnapshot): Promise<KpathError[]> {
    const errors: KpathError[] = [];
    const starts: Promise<void>[] = [];
    const refused: string[] = [];
    const wanted = this.wanted(snap);
    for (const w of wanted.values()) {
      if (execAllowed(w.pod, this.execAll)) continue;
      for (const c of hostCommands(w.pod)) {
        if (!this.warnedExec.has(c)) refused.push(c);
        this.warnedExec.add(c);
      }
    }
    if (refused.length) {
      this.log.warn(
        { refused },
        `not running ${refused.length} host command${refused.length === 1 ? '' : 's'} from the manifests ` +
          `(their containers get the built-in echo server; exec probes are skipped): ${refused.join('; ')}. ` +
          `kpath up --exec runs every pod's commands as host processes as your user; the pod annotation ` +
          `${EXEC_ANNOTATION}: "true" allows one pod`,
      );
    }
    // A removed pod whose IP a new pod takes (a replacement) stops first, or the new one could not bind.
    const takenIPs = new Set([...wanted.values()].flatMap((w) => w.pod.podIPs.map((ip) => ip.text)));
    const freed: Promise<void>[] = [];
    for (const [key, r] of [...this.running]) {
      if (wanted.has(key) || !r.pod.podIPs.some((ip) => takenIPs.has(ip.text))) continue;
      this.running.delete(key);
      freed.push(this.stopOne(key, r, 'removed; its IP is reused'));
    }
    await Promise.all(freed);
    for (const [key, w] of wanted) {
      const fp = specFingerprint(w.pod, this.execAll);
      const cur = this.running.get(key);
      if (cur && cur.fp === fp) continue;
      starts.push(
        (async () => {
          if (cur) {
            this.running.delete(key);
            await this.stopOne(key, cur, 'spec changed');
          }
          const log = this.log.child({ pod: key });
          const id = {
            pod: w.pod.meta.name,
            namespace: w.pod.meta.namespace,
            node: w.pod.nodeName!,
            podIP: w.pod.podIPs.find((x) => x.family === 4)!.text,
            nodeIP: w.nodeIP,
            loopbackIP: w.loopbackIP,
          };
          const containers = w.pod.containers.map(
            (c) =>
              new ContainerRunner(
                w.pod,
                c,
                id,
                this.twins(),
                containerEnv(snap, w.pod, c, this.twins(), this.baseEnv),
                this.timings,
                log,
                () => this.onReadinessChange(),
                this.dnsSource,
                execAllowed(w.pod, this.execAll),
              ),
          );
          const r: Running = { fp, pod: w.pod, containers, loopbackIP: w.loopbackIP };
          this.running.set(key, r);
          const results = await Promise.allSettled(containers.map((c) => c.start()));
          for (const res of results) if (res.status === 'rejected') errors.push(res.reason as KpathError);
          log.info(
            {
              podIP: id.podIP,
              loopback: id.loopbackIP,
              node: id.node,
              containers: containers.map((c) => c.kind),
            },
            'pod started',
          );
        })(),
      );
    }
    await Promise.all(starts);
    return errors;
  }

  /** Stop pods the snapshot no longer has (their connections are reset, as a deleted pod's would be). */
  async stopGone(snap: ClusterSnapshot): Promise<void> {
    const wanted = this.wanted(snap);
    const stops: Promise<void>[] = [];
    for (const [key, r] of [...this.running]) {
      if (wanted.has(key)) continue;
      this.running.delete(key);
      stops.push(this.stopOne(key, r, 'removed'));
    }
    await Promise.all(stops);
  }

  private async stopOne(key: string, r: Running, why: string): Promise<void> {
    await Promise.all(r.containers.map((c) => c.stop()));
    this.log.info({ pod: key, why }, 'pod stopped');
  }

  /** Runtime readiness of every running pod. */
  readiness(): Map<string, boolean> {
    return new Map([...this.running].map(([k, r]) => [k, r.containers.every((c) => c.ready)]));
  }

  /** Kill a container (or all of a pod's) as a crash would; it restarts per restartPolicy. */
  kill(podKey: string, container?: string): boolean {
    const r = this.running.get(podKey);
    if (!r) return false;
    r.containers.forEach((c, i) => {
      if (!container || r.pod.containers[i]?.name === container) c.kill();
    });
    return true;
  }

  list(): PodStatus[] {
    return [...this.running]
      .map(([k, r]) => ({
        pod: k,
        node: r.pod.nodeName ?? '',
        podIP: r.pod.podIPs.find((x) => x.family === 4)?.text ?? '',
        loopbackIP: r.loopbackIP,
        ready: r.containers.every((c) => c.ready),
        containers: r.containers.map((c) => c.status()),
      }))
      .sort((a, b) => (a.pod < b.pod ? -1 : 1));
  }

  async stopAll(): Promise<void> {
    const all = [...this.running];
    this.running.clear();
    await Promise.all(all.map(([k, r]) => this.stopOne(k, r, 'shutdown')));
  }
}
