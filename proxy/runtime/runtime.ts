/**
 * `kpath up` in-process: startRuntime(opts) -> { ready, stop(), ... }.
 *
 *   load manifests (or take a snapshot) -> choose the mode (flag, KubeProxyConfiguration, iptables)
 *   -> start pods on their twins -> effective snapshot (pod readiness from probes and processes
 *   folded into the EndpointSlices) -> mode.sync -> listeners -> health/metrics/admin servers -> ready
 *
 *   manifest change (debounced) -> rebuild; errors: logged, the old cluster keeps serving
 *     -> start new/changed pods -> mode.sync + listeners -> stop removed pods
 *   readiness change -> effective snapshot -> mode.sync (endpoints only)
 *   stop() -> close listeners (stop accepting) -> drain open connections until drainTimeoutMs,
 *     then close the rest -> stop pods -> close admin servers
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import pino from 'pino';
import { type IP, tryParseIP } from '../../netmodel/addr.js';
import type { Clock } from '../../netmodel/clock.js';
import {
  type BuildOptions,
  type BuildResult,
  type ClusterSnapshot,
  ClusterStore,
  deriveEndpointSlices,
  formatDiagnostic,
  type ManifestSource,
  type SnapshotParts,
} from '../../netmodel/cluster/index.js';
import {
  type Answerer,
  buildZone,
  createAnswerer,
  dnsViewOf,
  zoneOptionsOf,
} from '../../netmodel/dns/index.js';
import { ErrorCodes, isKpathError, KpathError } from '../../netmodel/errors.js';
import { loopbackGaps, loopbackGapsMessage } from '../../netmodel/loopback-gaps.js';
import { type Rng, SeededRng } from '../../netmodel/rng.js';
import { TwinMap } from '../../netmodel/twins.js';
import { exampleClusterPath, loadCluster, readManifestSources } from '../manifest-files.js';
import type { Ui } from '../ui/index.js';
import { AdminServers, type Endpoint } from './admin.js';
import { conntrackJson, LiveConntrack } from './conntrack.js';
import type { DockerContainerStatus, DockerHosts } from './docker/index.js';
import { allEndpoints } from './eligibility.js';
import type { ForwardContext, ForwardLimits } from './forward-context.js';
import { desiredListeners, type ListenerInfo, Listeners } from './listeners.js';
import { RuntimeMetrics } from './metrics.js';
import { chooseMode, createMode, type ModeChoice } from './modes/select.js';
import type { ProxyMode } from './modes/types.js';
import type { ContainerTimings } from './pods/container.js';
import type { DnsSource } from './pods/dns.js';
import { PodManager, type PodStatus } from './pods/manager.js';
import { PolicyGate } from './policy-gate.js';
import { type OpenMember, SlotSet } from './slot-set.js';
import { watchManifests } from './watch.js';

/** Defaults, each with its unit. */
export const RUNTIME_DEFAULTS = Object.freeze({
  /** kube-proxy --healthz-bind-address */
  health: { host: '127.0.0.1', port: 10256 } as Endpoint,
  /** kube-proxy --metrics-bind-address; the admin API shares it */
  metrics: { host: '127.0.0.1', port: 10249 } as Endpoint,
  limits: {
    /** bytes per socket buffer in each direction */
    highWaterMark: 64 * 1024,
    /** ms; 0: no idle timeout */
    idleTimeoutMs: 0,
    /** ms before the first keepalive probe */
    keepAliveMs: 60_000,
    /** 0: unlimited */
    maxConnections: 0,
    /** ms a dropped TCP connection is held before the proxy closes it */
    dropHoldMs: 60_000,
    /** ms; kube-proxy userspace --udp-timeout */
    udpIdleTimeoutMs: 250,
    /** splice established connections in the kernel when the native addon is built */
    nativeRelay: true,
  } satisfies ForwardLimits,
  timings: {
    /** ms; kubelet's crash-loop back-off starts at 10 s ... */
    backoffInitialMs: 10_000,
    /** ... and doubles up to 5 min */
    backoffMaxMs: 300_000,
    /** ms a container must run before its back-off resets (kubelet: 10 min) */
    backoffResetMs: 600_000,
    /** ms between SIGTERM and SIGKILL */
    killGraceMs: 2_000,
    /** multiplier on probe seconds */
    probeTimeScale: 1,
  } satisfies ContainerTimings,
  /** ms of quiet after a manifest change before reloading */
  watchDebounceMs: 200,
  /** ms stop() waits for open connections before closing them */
  drainTimeoutMs: 5_000,
  /** ms between the emulated kernels' conntrack garbage collections */
  housekeepingMs: 5_000,
});

export interface RuntimeOptions {
  /** Manifest paths (files or directories); watched for changes unless `watch` is false. */
  readonly files?: readonly string[];
  readonly cwd?: string;
  /** A cluster to run instead of files (not watched). */
  readonly snapshot?: ClusterSnapshot;
  /** The --mode flag; unset: the KubeProxyConfiguration's mode, else iptables. */
  readonly mode?: string;
  readonly logger?: Logger;
  /** Clock for affinity and conntrack ages (ms). Default Date.now. */
  readonly clock?: Clock;
  /** Randomness for the userspace shuffle. Default: seeded from `seed` or the time. */
  readonly rng?: Rng;
  readonly seed?: number;
  /** null disables the server. */
  readonly health?: Endpoint | null;
  readonly metrics?: Endpoint | null;
  /** The node a process on "the host" (127.0.0.1) is on. Default: the first Ready node without NoSchedule taints, else the first node. */
  readonly node?: string;
  readonly limits?: Partial<ForwardLimits>;
  readonly timings?: Partial<ContainerTimings>;
  readonly watch?: boolean;
  readonly watchDebounceMs?: number;
  readonly drainTimeoutMs?: number;
  /** Include Node process metrics (heap, event loop lag) in /metrics. */
  readonly processMetrics?: boolean;
  /** The built-in kube-dns answers with loopback twins (127.a.b.c) so curl to a resolved name works. */
  readonly dnsTwins?: boolean;
  /**
   * net.netfilter.nf_conntrack_acct for the live connection table (--conntrack-acct): per-direction
   * packets= and bytes= in `kpath conntrack`. Default off, as Linux's default is 0.
   */
  readonly conntrackAcct?: boolean;
  /** Reset TCP connections NetworkPolicy denies instead of holding them unanswered (--policy-reject). */
  readonly policyReject?: boolean;
  /** `-n NS`: the namespace of objects that name none (kubectl apply -n). */
  readonly namespace?: string;
  /**
   * false: never listen on 127.0.0.1 for NodePorts, whatever the mode says (a cluster run next to a
   * `kpath up`, as `kpath lab check` does, keeps to its own loopback addresses).
   */
  readonly localhostNodePorts?: boolean;
  /**
   * Run containers' `command` as host processes (`--exec`). Off by default: such containers get the
   * built-in echo server unless their pod carries the annotation kpath.dev/exec: "true".
   */
  readonly exec?: boolean;
  /**
   * Build the cluster from the manifest sources (default: buildCluster). The API server lays its
   * own objects over the files here, so file reloads and API writes meet in one model.
   */
  readonly build?: (sources: readonly ManifestSource[], opts: BuildOptions) => BuildResult;
  /** Docker hosts' embedded DNS: where it listens (default 127.0.0.11:53; null: not served). */
  readonly dockerDns?: { readonly host: string; readonly port: number } | null;
  /**
   * Where Docker hosts' ports published on 127.0.0.1 (and `-p PORT` on every address) listen for
   * the host's own localhost (default 127.0.0.1; `kpath lab check` gives an address of its slot).
   */
  readonly dockerLocalhost?: string;
}

export interface Runtime {
  /** Resolves once pods, listeners and the admin servers are up; rejects with KPATH_E_LISTEN etc. */
  readonly ready: Promise<void>;
  stop(): Promise<void>;
  readonly mode: ProxyMode | undefined;
  readonly conntrack: LiveConntrack;
  readonly metrics: RuntimeMetrics;
  snapshot(): ClusterSnapshot | undefined;
  /** host:port of the health and metrics servers once ready (ephemeral ports resolved). */
  addresses(): { health?: string; metrics?: string };
  listeners(): ListenerInfo[];
  pods(): PodStatus[];
  /** Crash a pod's container(s); they restart per restartPolicy. */
  kill(pod: string, container?: string): boolean;
  /** Re-read the manifests now; false if they were rejected (the old cluster keeps serving). */
  reload(): Promise<boolean>;
  /** Bytes sitting in the proxy's socket buffers across all open connections. */
  buffered(): number;
  /** Run a snapshot built elsewhere (the API server's writes), queued after any sync in progress. */
  adopt(next: ClusterSnapshot): Promise<void>;
  /** The version the next built snapshot should carry. */
  nextVersion(): number;
  /** Be told of every effective snapshot (pod readiness folded in); returns the unsubscribe function. */
  subscribe(fn: (snap: ClusterSnapshot) => void): () => void;
  /** The Docker hosts' containers being served, and where their embedded DNS listens. */
  docker(): { containers: DockerContainerStatus[]; dns?: string };
}

/** Address -> node: a node's own addresses first, then pods' (the first pod listed wins a tie). */
function nodesByAddress(snap: ClusterSnapshot): Map<string, string> {
  const m = new Map<string, string>();
  for (const n of snap.nodes) for (const x of n.internalIPs) if (!m.has(x.text)) m.set(x.text, n.meta.name);
  for (const p of snap.pods) {
    if (!p.nodeName) continue;
    for (const x of p.podIPs) if (!m.has(x.text)) m.set(x.text, p.nodeName);
  }
  return m;
}

function pickDefaultNode(snap: ClusterSnapshot, wanted: string | undefined): string {
  if (wanted && snap.node(wanted)) return wanted;
  const ok = snap.nodes.find((n) => n.ready && !n.taints.some((t) => t.effect === 'NoSchedule'));
  return (ok ?? snap.nodes[0])?.meta.name ?? '';
}

/** The snapshot with runtime pod readiness folded in and controller EndpointSlices re-derived. */
function effectiveParts(base: ClusterSnapshot, readiness: Map<string, boolean>): SnapshotParts {
  let changed = false;
  const pods = base.pods.map((p) => {
    const r = readiness.get(`${p.meta.namespace}/${p.meta.name}`);
    if (r === undefined || (p.ready && r) === p.ready) return p;
    changed = true;
    return { ...p, ready: p.ready && r };
  });
  let slices = base.endpointSlices;
  if (changed) {
    const derivedFor = new Set(
      base.services.filter((s) => s.selector).map((s) => `${s.meta.namespace}/${s.meta.name}`),
    );
    slices = [
      ...base.endpointSlices.filter(
        (s) => s.source !== 'controller' || !derivedFor.has(`${s.meta.namespace}/${s.serviceName}`),
      ),
      ...base.services.flatMap((s) => (s.selector ? deriveEndpointSlices(s, pods, base.nodes) : [])),
    ];
  }
  return { ...base, pods, endpointSlices: slices, warnings: base.warnings };
}

export function startRuntime(opts: RuntimeOptions = {}): Runtime {
  const log = opts.logger ?? pino({ level: 'silent' });
  const clock: Clock = opts.clock ?? { now: () => Date.now() };
  const rng = opts.rng ?? new SeededRng(opts.seed ?? Date.now() >>> 0);
  const limits: ForwardLimits = { ...RUNTIME_DEFAULTS.limits, ...opts.limits };
  const timings: ContainerTimings = { ...RUNTIME_DEFAULTS.timings, ...opts.timings };
  const cwd = opts.cwd ?? process.cwd();
  const files = opts.files ?? [];
  const metrics = new RuntimeMetrics({ processMetrics: opts.processMetrics ?? false });
  const conntrack = new LiveConntrack(clock, undefined, opts.conntrackAcct ?? false);
  const store = new ClusterStore();
  const open = new SlotSet<OpenMember>();
  const policy = new PolicyGate({
    reject: opts.policyReject ?? false,
    clock,
    metrics,
    log: log.child({ component: 'policy' }),
  });
  let base: ClusterSnapshot | undefined;
  let twins = new TwinMap();
  let mode: ProxyMode | undefined;
  let modeChoice: ModeChoice | undefined;
  let defaultNode = '';
  let healthy = false;
  let lastUpdated = 0;
  let stopped = false;
  let unwatch: (() => void) | undefined;
  let syncing: Promise<unknown> = Promise.resolve();
  let lastGaps = '';

  const eff = () => store.current();
  // ctx.nodeOf's answers for one snapshot (a connection from a pod's twin asks it every time).
  let nodeOfSnap: ClusterSnapshot | undefined;
  let nodeOfIP = new Map<string, string>();
  const nodeIPOf = (snap: ClusterSnapshot | undefined, name: string): IP | undefined =>
    snap?.node(name)?.internalIPs.find((x) => x.family === 4);

  const ctx: ForwardContext = {
    mode: () => mode!,
    twins: () => twins,
    nodeOf(ip) {
      const snap = eff();
      if (!snap) return undefined;
      if (nodeOfSnap !== snap) {
        nodeOfSnap = snap;
        nodeOfIP = nodesByAddress(snap);
      }
      return nodeOfIP.get(ip.text);
    },
    nodeIP: (name) => nodeIPOf(eff(), name),
    defaultNode: () => defaultNode,
    conntrack,
    metrics,
    log: log.child({ component: 'forward' }),
    clock,
    limits,
    open,
  };
  const listeners = new Listeners(ctx, limits.highWaterMark);
  // Docker hosts (proxy/runtime/docker, cni/docker) are loaded by the first snapshot that has one.
  let dockerKit: typeof import('./docker/index.js') | undefined;
  let docker: DockerHosts | undefined;
  async function dockerFor(snap: ClusterSnapshot): Promise<typeof import('./docker/index.js') | undefined> {
    if (!dockerKit && snap.dockerHosts.length) dockerKit = await import('./docker/index.js');
    return dockerKit;
  }
  function dockerHosts(kit: typeof import('./docker/index.js')): DockerHosts {
    docker ??= new kit.DockerHosts({
      conntrack,
      metrics,
      log: log.child({ component: 'docker' }),
      clock,
      limits,
      open,
      ...(opts.dockerDns !== undefined ? { dns: opts.dockerDns } : {}),
      ...(opts.dockerLocalhost !== undefined ? { localhost: opts.dockerLocalhost } : {}),
    });
    return docker;
  }
  let readinessQueued = false;
  // The built-in kube-dns: one answerer for every DNS pod, rebuilt lazily after each cluster change.
  let dnsAnswerer: Answerer | undefined;
  const dnsSubscribers = new Set<() => void>();
  const dnsSource: DnsSource = {
    answerer() {
      if (!dnsAnswerer) {
        const snap = eff() ?? base!;
        const t = twins;
        const options = zoneOptionsOf(
          snap,
          opts.dnsTwins
            ? {
                mapAddress: (a: string) => {
                  const ip = tryParseIP(a);
                  return (ip && t.toLoopback(ip)?.text) ?? a;
                },
              }
            : {},
        );
        dnsAnswerer = createAnswerer(buildZone(dnsViewOf(snap), options));
      }
      return dnsAnswerer;
    },
    subscribe(cb) {
      dnsSubscribers.add(cb);
      return () => dnsSubscribers.delete(cb);
    },
  };
  const pods = new PodManager(
    () => twins,
    timings,
    log.child({ component: 'pods' }),
    () => {
      // Coalesce bursts of probe results into one endpoint update.
      if (readinessQueued) return;
      readinessQueued = true;
      setImmediate(() => {
        readinessQueued = false;
        if (!stopped && base) applyEffective();
      });
    },
    process.env,
    dnsSource,
    opts.exec ?? false,
  );

  store.subscribe((change) => {
    mode?.sync(change.to);
    const cleared = mode?.clearedUdp?.();
    if (cleared?.size) listeners.endClearedUdp(cleared);
    dnsAnswerer = undefined;
    for (const cb of [...dnsSubscribers]) cb();
  });

  function applyEffective(): void {
    if (!base) return;
    const before = eff();
    store.apply(effectiveParts(base, pods.readiness()));
    const after = eff();
    if (after !== before && before) {
      const eps = (s: ClusterSnapshot) =>
        s.services.flatMap((svc) =>
          svc.ports.flatMap((sp) =>
            allEndpoints(s, svc, sp)
              .filter((e) => e.ready)
              .map((e) => e.key),
          ),
        );
      const a = new Set(eps(before));
      const b = new Set(eps(after!));
      const added = [...b].filter((k) => !a.has(k));
      const removed = [...a].filter((k) => !b.has(k));
      if (added.length || removed.length) log.info({ added, removed }, 'endpoints changed');
    }
  }

  async function sync(next: ClusterSnapshot): Promise<KpathError[]> {
    const t0 = performance.now();
    base = next;
    const kit = await dockerFor(next);
    twins = new TwinMap([...next.config.loopbackMap, ...(kit?.dockerLoopbackMap(next) ?? [])]);
    const gaps = loopbackGaps(next, twins);
    const gapsText = gaps.length ? loopbackGapsMessage(gaps) : '';
    if (gapsText && gapsText !== lastGaps) log.warn({ addresses: gaps.map((g) => g.model) }, gapsText);
    lastGaps = gapsText;
    defaultNode = pickDefaultNode(next, opts.node);
    const errors = await pods.startNew(next);
    applyEffective();
    const localhostNodePorts =
      opts.localhostNodePorts === false
        ? false
        : mode?.name === 'ipvs'
          ? false
          : mode?.name === 'iptables'
            ? next.proxy.localhostNodePorts
            : true;
    const { specs, conflicts } = desiredListeners(eff()!, twins, defaultNode, localhostNodePorts);
    for (const c of conflicts) log.warn(c);
    errors.push(...(await listeners.reconcile(specs)));
    if (kit) errors.push(...(await dockerHosts(kit).sync(next, twins)));
    await pods.stopGone(next);
    metrics.syncDuration.observe((performance.now() - t0) / 1000);
    metrics.lastSync.set(Date.now() / 1000);
    lastUpdated = Date.now();
    return errors;
  }

  function load(): ClusterSnapshot {
    const version = (base?.version ?? 0) + 1;
    const buildOpts: BuildOptions = {
      version,
      ...(base ? { previous: base } : {}),
      ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}),
    };
    const r = opts.build
      ? opts.build(readManifestSources(files.length ? files : [exampleClusterPath()], cwd), buildOpts)
      : loadCluster(files, cwd, version, buildOpts);
    for (const d of r.diagnostics) {
      if (d.severity === 'error') continue;
      log.warn({ diagnostic: formatDiagnostic(d) }, 'manifest warning');
    }
    if (!r.ok) {
      const errs = r.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);
      throw Object.assign(
        new KpathError(
          ErrorCodes.INVALID,
          `${errs.length} manifest error${errs.length === 1 ? '' : 's'}; nothing was loaded:\n${errs.join('\n')}`,
        ),
        { diagnostics: errs },
      );
    }
    return r.snapshot;
  }

  async function adopt(next: ClusterSnapshot): Promise<void> {
    if (stopped) return;
    const run = syncing.then(() => (stopped ? [] : sync(next)));
    syncing = run.catch(() => {});
    const errors = await run;
    for (const e of errors) log.error({ code: e.code }, e.message);
    log.info(
      { version: next.version, services: next.services.length, pods: next.pods.length },
      'cluster changed',
    );
  }

  async function reload(): Promise<boolean> {
    if (stopped || opts.snapshot) return false;
    let next: ClusterSnapshot;
    try {
      next = load();
    } catch (e) {
      metrics.reloadErrors.inc();
      const diagnostics = (e as { diagnostics?: string[] }).diagnostics;
      log.error(
        { err: isKpathError(e) ? e.message : String(e), diagnostics },
        'manifests rejected; still serving the previous cluster',
      );
      return false;
    }
    const run = syncing.then(() => (stopped ? [] : sync(next)));
    syncing = run.catch(() => {});
    const errors = await run;
    for (const e of errors) log.error({ code: e.code }, e.message);
    log.info(
      { version: next.version, services: next.services.length, pods: next.pods.length },
      'cluster reloaded',
    );
    return true;
  }

  // The web page (proxy/ui, and the trace code behind it) is loaded by its first request (/ui, /ui/...).
  let ui: Promise<Ui> | undefined;
  const uiRoutes = (req: IncomingMessage, res: ServerResponse): boolean => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path !== '/ui' && !path.startsWith('/ui/')) return false;
    ui ??= import('../ui/index.js').then((m) =>
      m.createUi({
        snapshot: eff,
        mode: () => mode?.name ?? '',
        conntrack: () => conntrack.listAll().map((c) => conntrackJson(c, clock.now(), conntrack.acct)),
        denials: () => policy.denials(),
      }),
    );
    // As the admin server answers a route that throws: 500 with the message, never a crash.
    ui.then((u) => u.handle(req, res)).catch((e: Error) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`${e.message}\n`);
    });
    return true;
  };
  const admin = new AdminServers({
    routes: uiRoutes,
    healthy: () => ({ ok: healthy, lastUpdated }),
    metrics: async () => ({
      contentType: metrics.registry.contentType,
      body: await metrics.registry.metrics(),
    }),
    proxyMode: () => mode?.name ?? '',
    api: {
      conntrack: () => ({
        mode: mode?.name,
        acct: conntrack.acct,
        entries: conntrack.listAll().map((c) => conntrackJson(c, clock.now(), conntrack.acct)),
      }),
      affinity: () => ({ mode: mode?.name, entries: mode?.affinity() ?? [] }),
      endpoints: () => {
        const snap = eff();
        const order = new Map((mode?.endpoints() ?? []).map((m) => [m.servicePort, m]));
        return {
          mode: mode?.name,
          servicePorts: (snap?.services ?? [])
            .filter((s) => s.type !== 'ExternalName')
            .flatMap((svc) =>
              svc.ports.map((sp) => {
                const key = `${svc.meta.namespace}/${svc.meta.name}:${sp.name}`;
                const m = order.get(key);
                return {
                  servicePort: key,
                  protocol: sp.protocol,
                  sessionAffinity: svc.sessionAffinity,
                  endpoints: allEndpoints(snap!, svc, sp).map((e) => ({
                    address: e.key,
                    pod: e.pod ?? null,
                    node: e.nodeName ?? null,
                    ready: e.ready,
                    serving: e.serving,
                    terminating: e.terminating,
                  })),
                  rotation: m ? m.endpoints : [],
                  next: m?.next ?? null,
                };
              }),
            ),
        };
      },
      listeners: () => ({ listeners: listeners.list() }),
      pods: () => ({ pods: pods.list() }),
      denials: () => ({ denials: policy.denials() }),
      ipvs: async () => {
        const tables = [...(mode?.ipvsTables?.() ?? [])];
        // ipvsadm's formats, loaded when a node has IPVS (ipvs mode) and someone asks.
        const { ipvsOutputs } = tables.length ? await import('../ipvs/index.js') : { ipvsOutputs: undefined };
        return {
          mode: mode?.name,
          nodes: Object.fromEntries(tables.map(([n, t]) => [n, ipvsOutputs!(n, t, clock.now())])),
        };
      },
    },
  });

  const ready = (async () => {
    const first = opts.snapshot ?? load();
    modeChoice = chooseMode(opts.mode, first);
    mode = policy.wrap(await createMode(modeChoice, { clock, rng }));
    log.info({ mode: mode.name, from: modeChoice.from }, 'proxy mode');
    const errors = await sync(first);
    if (errors.length) throw errors[0];
    await admin.start(
      opts.health === undefined ? RUNTIME_DEFAULTS.health : opts.health,
      opts.metrics === undefined ? RUNTIME_DEFAULTS.metrics : opts.metrics,
    );
    healthy = true;
    if (files.length && !opts.snapshot && opts.watch !== false) {
      unwatch = watchManifests(
        files,
        cwd,
        opts.watchDebounceMs ?? RUNTIME_DEFAULTS.watchDebounceMs,
        () => void reload(),
        (e) => log.warn({ err: e.message }, 'cannot watch manifests'),
      );
    }
    log.info(
      {
        listeners: listeners.list().length,
        pods: pods.list().length,
        health: admin.healthAddress ?? null,
        metrics: admin.metricsAddress ?? null,
      },
      'kpath up: ready',
    );
  })();
  ready.catch(() => {});

  // The kernel's periodic upkeep (conntrack gc), on the runtime's clock.
  const housekeeping = setInterval(() => {
    try {
      mode?.housekeeping?.(clock.now());
      docker?.housekeeping(clock.now());
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'housekeeping failed');
    }
  }, RUNTIME_DEFAULTS.housekeepingMs);
  housekeeping.unref();

  async function stop(): Promise<void> {
    if (stopped) return;
    stopped = true;
    clearInterval(housekeeping);
    healthy = false;
    unwatch?.();
    await ready.catch(() => {});
    await syncing;
    await Promise.all([listeners.closeAll(), docker?.closeListeners()]);
    const deadline = opts.drainTimeoutMs ?? RUNTIME_DEFAULTS.drainTimeoutMs;
    if (open.size > 0) {
      log.info({ open: open.size, deadlineMs: deadline }, 'draining connections');
      const t0 = Date.now();
      while (open.size > 0 && Date.now() - t0 < deadline) await new Promise((r) => setTimeout(r, 25));
      if (open.size > 0) log.info({ closed: open.size }, 'drain deadline passed; closing the rest');
      for (const c of [...open]) c.destroy();
    }
    await pods.stopAll();
    await docker?.stop();
    mode?.close();
    (await ui?.catch(() => undefined))?.close();
    await admin.stop();
    log.info('kpath up: stopped');
  }

  return {
    ready,
    stop,
    get mode() {
      return mode;
    },
    conntrack,
    metrics,
    snapshot: eff,
    addresses: () => ({
      ...(admin.healthAddress ? { health: admin.healthAddress } : {}),
      ...(admin.metricsAddress ? { metrics: admin.metricsAddress } : {}),
    }),
    listeners: () => [...listeners.list(), ...(docker?.list() ?? [])],
    pods: () => pods.list(),
    kill: (pod, container) => pods.kill(pod, container),
    reload,
    buffered: () => [...open].reduce((n, c) => n + c.buffered(), 0),
    adopt,
    nextVersion: () => Math.max(base?.version ?? 0, store.current()?.version ?? 0) + 1,
    subscribe: (fn) => store.subscribe((change) => fn(change.to)),
    docker: () => {
      const dns = docker?.embeddedDns();
      return { containers: docker?.containers() ?? [], ...(dns ? { dns } : {}) };
    },
  };
}
