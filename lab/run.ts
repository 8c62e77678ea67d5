/**
 * `kpath lab check`, the library half:
 *
 *   decode the lab's checks (a lab's own mistake: KPATH_E_INVALID)
 *   -> read and build the manifests in the lab directory; errors -> {invalid} (the command exits 2)
 *   -> start the cluster in-process on a lab slot (proxy/isolated): real pods, kube-dns, proxy
 *      listeners; probes run ten times faster than written
 *   -> wait for readiness to settle (every pod ready, or each readiness probe has had its retry)
 *   -> each check: real traffic, judged -> stop the cluster -> {passed, checks}
 */
import { type Logger, pino } from 'pino';
import { buildCluster, type ClusterSnapshot, formatDiagnostic } from '../netmodel/cluster/index.js';
import { planDockerHost } from '../netmodel/docker/index.js';
import { ErrorCodes, KpathError } from '../netmodel/errors.js';
import { TwinMap } from '../netmodel/twins.js';
import { type IsolatedRun, type Slot, shiftedPort, startIsolated } from '../proxy/isolated/index.js';
import { readManifestSources } from '../proxy/manifest-files.js';
import type { Lab } from './catalog.js';
import { CHECK_KINDS, type CheckEnv, type PreparedCheck } from './checks/index.js';
import { LAB_SLOTS, labSlots } from './slots.js';

/** Probe periods, delays and timeouts are multiplied by this in a check run. */
export const PROBE_TIME_SCALE = 0.1;

export interface CheckResult {
  readonly name: string;
  readonly passed: boolean;
  readonly detail: string;
}

export interface CheckReport {
  readonly passed: boolean;
  readonly checks: readonly CheckResult[];
  /**
   * What the cluster reported while the checks ran, as `kubectl get events` would show it (kubelet's
   * probe failures, containers that could not start...): warnings, each once, in order.
   */
  readonly events: readonly string[];
}

/** At most this many events are kept. */
export const MAX_EVENTS = 20;

/** A pino destination that keeps warnings as one line each: `pod NS/NAME: message`. */
function eventSink(events: string[]): { write(line: string): void } {
  return {
    write(line) {
      try {
        const j = JSON.parse(line) as { pod?: string; msg?: string; diagnostic?: string };
        const text = `${j.pod ? `pod ${j.pod}: ` : ''}${j.diagnostic ?? j.msg ?? ''}`;
        if (text && !events.includes(text) && events.length < MAX_EVENTS) events.push(text);
      } catch {
        // not a JSON line
      }
    },
  };
}

export interface RunOptions {
  /** Default: only when this process may not bind ports below 1024. */
  readonly shiftPorts?: boolean;
  readonly logger?: Logger;
  /** Seed of the cluster's random endpoint choices (default 1: a check run is repeatable). */
  readonly seed?: number;
}

/** Decode every check of the lab (done before anything starts, so a bad lab fails fast). */
export function prepareChecks(lab: Lab): { name: string; check: PreparedCheck }[] {
  return lab.spec.checks.map((c, i) => {
    const kind = CHECK_KINDS[c.kind];
    const where = `${lab.dir}/lab.yaml: checks[${i}] (${c.name})`;
    if (!kind)
      throw new KpathError(
        ErrorCodes.INVALID,
        `${where}: kind: "${c.kind}" is not one of ${Object.keys(CHECK_KINDS).join(', ')}`,
      );
    return { name: c.name, check: kind.prepare(c.raw, where) };
  });
}

/**
 * How long readiness may take to settle, in ms: the second result of every readiness probe (one
 * period after the first), so a first probe that times out on a busy machine gets its retry, as
 * kubelet retries it. Capped at MAX_SETTLE_MS; a run stops waiting as soon as every pod is ready.
 */
function settleMs(snap: ClusterSnapshot): number {
  let ms = 0;
  for (const p of snap.pods)
    for (const c of p.containers) {
      const r = c.readinessProbe;
      if (!r) continue;
      const sec = (k: string, def: number) => (typeof r[k] === 'number' ? (r[k] as number) : def);
      const s = sec('initialDelaySeconds', 0) + sec('periodSeconds', 10) + sec('timeoutSeconds', 1);
      ms = Math.max(ms, s * 1000 * PROBE_TIME_SCALE);
    }
  return Math.min(ms, MAX_SETTLE_MS);
}

/** The longest a check run waits for pods to become ready before it sends traffic. */
export const MAX_SETTLE_MS = 5_000;

async function settle(run: IsolatedRun): Promise<void> {
  const deadline = Date.now() + settleMs(run.snap) + 300;
  const wanted = run.snap.pods.filter((p) => p.ready).map((p) => `${p.meta.namespace}/${p.meta.name}`);
  for (;;) {
    const eff = run.rt.snapshot();
    if (eff && wanted.every((k) => eff.pods.find((p) => `${p.meta.namespace}/${p.meta.name}` === k)?.ready))
      break;
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setImmediate(r));
}

/** Where the run's Docker hosts serve their 127.0.0.1 and embedded DNS (none without a host). */
function dockerEnv(run: IsolatedRun, slot: Slot): CheckEnv['docker'] {
  if (!run.snap.dockerHosts.length) return undefined;
  const dns = run.rt.docker().dns;
  const at = dns?.lastIndexOf(':') ?? -1;
  return {
    localhost: slot.runtime?.dockerLocalhost ?? '127.0.0.1',
    ...(dns && at > 0 ? { dns: { host: dns.slice(0, at), port: Number(dns.slice(at + 1)) } } : {}),
  };
}

export async function runChecks(
  lab: Lab,
  dir: string,
  opts: RunOptions = {},
): Promise<CheckReport | { invalid: string[] }> {
  const checks = prepareChecks(lab);
  const sources = readManifestSources([dir]);
  const built = buildCluster(sources);
  if (!built.ok)
    return { invalid: built.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic) };
  let offset = 0;
  const events: string[] = [];
  // Docker hosts' networks get twins, localhost and embedded DNS in the slot too (slots.ts).
  const slots = labSlots(
    process.pid % LAB_SLOTS,
    built.snapshot.dockerHosts.flatMap((h) => planDockerHost(h).plan.networks.map((n) => n.subnet)),
  );
  const run = await startIsolated({
    sources,
    slots,
    ...(opts.shiftPorts !== undefined ? { shiftPorts: opts.shiftPorts } : {}),
    runtime: {
      clock: { now: () => Date.now() + offset },
      seed: opts.seed ?? 1,
      localhostNodePorts: false,
      timings: { probeTimeScale: PROBE_TIME_SCALE },
      drainTimeoutMs: 100,
      // A dropped connection is held (the client sees silence) longer than any check waits; a UDP
      // flow (a DNS query through the kube-dns service) lives 5 s idle, not the userspace proxier's
      // 250 ms, so a reply delayed on a busy machine still finds its way back (the kernel keeps 30 s).
      limits: { dropHoldMs: 5_000, udpIdleTimeoutMs: 5_000 },
      logger: opts.logger ?? pino({ level: 'warn', base: null, timestamp: false }, eventSink(events)),
    },
  });
  try {
    await settle(run);
    const env: CheckEnv = {
      snap: run.snap,
      twins: new TwinMap(run.snap.config.loopbackMap),
      realPort: (p) => shiftedPort(p, run.shiftPorts),
      advance: (ms) => {
        offset += ms;
      },
      docker: dockerEnv(run, slots[run.slot]!),
    };
    const results: CheckResult[] = [];
    for (const c of checks) {
      try {
        const v = await c.check.run(env);
        results.push({ name: c.name, passed: v.passed, detail: v.detail });
      } catch (e) {
        results.push({ name: c.name, passed: false, detail: e instanceof Error ? e.message : String(e) });
      }
    }
    return { passed: results.every((r) => r.passed), checks: results, events };
  } finally {
    await run.stop();
  }
}
