/**
 * The API's side of the cluster: the state laid over the manifests (state.ts), the cache of served
 * objects with their resourceVersions (cache.ts), and the one path every write takes:
 *
 *   request -> queued (one write at a time) -> the object's new form (from the cache's current one)
 *     -> compose manifests + state with the change -> build and validate (netmodel/cluster)
 *        errors: 422 Invalid with the causes, nothing changed
 *     -> state written atomically -> cache updated (new resourceVersion, watch events)
 *     -> the runtime adopts the snapshot (pods, listeners, datapath, DNS) -> response
 *
 * The runtime's manifest reloads build through `composeFor`, so file edits and API writes meet in one
 * model; the effective snapshots it publishes (pod readiness folded in) refresh the cache.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ClusterSnapshot, Diagnostic, ManifestSource } from '../../netmodel/cluster/index.js';
import { type BuildOptions, type BuildResult, formatDiagnostic } from '../../netmodel/cluster/index.js';
import { type Entry, ObjectCache } from './cache.js';
import { compose, type Parsed, parseSources } from './compose.js';
import { type LiveContainer, type LivePods, type Obj, renderCluster } from './render.js';
import { type ResourceInfo, resourceId } from './resources.js';
import {
  emptyState,
  fileFingerprint,
  type OverlayEntry,
  readState,
  type StateData,
  writeState,
} from './state.js';
import { type ApiError, errors, type StatusCause } from './status.js';

/** What the API needs from `kpath up`'s runtime. */
export interface ClusterHost {
  /** Run this snapshot (start and stop pods, reconcile listeners, program the datapath). */
  adopt(snapshot: ClusterSnapshot): Promise<unknown>;
  /** The version the next snapshot should carry. */
  nextVersion(): number;
  /** Effective snapshots as the runtime publishes them. */
  subscribe(fn: (snap: ClusterSnapshot) => void): () => void;
  current(): ClusterSnapshot | undefined;
  /** Running pods' containers by `ns/name`, for restart counts and container states. */
  containers?(): ReadonlyMap<string, readonly LiveContainer[]>;
}

export type Change =
  | { readonly kind: 'put'; readonly body: Obj }
  | { readonly kind: 'delete' }
  | { readonly kind: 'deletePod'; readonly workload: string; readonly pod: string };

export interface Target {
  readonly resource: ResourceInfo;
  readonly namespace: string;
  readonly name: string;
}

/** Deleted pod names remembered per workload (older ones are forgotten). */
const DELETED_PODS_KEPT = 64;

export class ApiStore {
  readonly cache: ObjectCache;
  private state: StateData;
  private parsed: Parsed = { raws: [], diagnostics: [] };
  private fileObjects: ReadonlyMap<string, Obj> = new Map();
  private stored = new Map<string, Map<string, Obj>>();
  private latestBase: ClusterSnapshot | undefined;
  /** The snapshot the cache was last rendered from. */
  private rendered: ClusterSnapshot | undefined;
  private host: ClusterHost | undefined;
  private unsubscribe: (() => void) | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly clock: () => number;

  constructor(
    private readonly stateDir: string,
    private readonly log: Logger,
    opts: { fresh?: boolean; clock?: () => number } = {},
  ) {
    this.clock = opts.clock ?? Date.now;
    this.state = opts.fresh ? emptyState() : readState(stateDir);
    if (opts.fresh) writeState(stateDir, this.state);
    this.cache = new ObjectCache(this.state.resourceVersion);
  }

  /** The runtime's build: its manifest sources with the API's state laid over them. */
  composeFor = (sources: readonly ManifestSource[], opts: BuildOptions): BuildResult => {
    this.parsed = parseSources(sources);
    const c = compose(this.parsed, this.state, opts);
    this.fileObjects = c.fileObjects;
    if (c.stale.length) {
      const objects = { ...this.state.objects };
      for (const id of c.stale) delete objects[id];
      this.state = { ...this.state, objects };
      writeState(this.stateDir, this.state);
      this.log.info({ objects: c.stale }, 'manifest changes replace what the API had changed');
    }
    if (c.result.ok) {
      this.latestBase = c.result.snapshot;
      this.stored = c.stored;
    }
    return c.result;
  };

  /** A lookup of the running containers, taken once per render. */
  private get live(): LivePods {
    const m = this.host?.containers?.();
    return (key) => m?.get(key);
  }

  attach(host: ClusterHost): void {
    this.host = host;
    this.unsubscribe = host.subscribe((snap) => this.refresh(snap));
    const cur = host.current();
    if (cur) this.refresh(cur);
  }

  detach(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Refresh the cache from a snapshot built from the latest base (older ones are skipped). */
  private refresh(snap: ClusterSnapshot): void {
    const base = this.latestBase;
    if (base && snap.services !== base.services) return;
    // A snapshot with the same pods and slices as the one last rendered (the write path renders the
    // base; the runtime then publishes it with unchanged readiness) adds nothing.
    const last = this.rendered;
    if (
      last &&
      last.services === snap.services &&
      last.endpointSlices === snap.endpointSlices &&
      last.pods.length === snap.pods.length &&
      snap.pods.every((p, i) => p === last.pods[i])
    )
      return;
    this.rendered = snap;
    this.cache.update(renderCluster(snap, this.stored, this.live), new Date(this.clock()).toISOString());
  }

  get(r: ResourceInfo, key: string): Entry | undefined {
    return this.cache.get(resourceId(r), key);
  }

  now(): string {
    return new Date(this.clock()).toISOString().replace(/\.\d+Z$/, 'Z');
  }

  newUid(): string {
    return randomUUID();
  }

  /** Writes run one at a time, in arrival order. */
  serialize<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  /**
   * Validate and commit changes (one object, or a namespace and its contents); returns the cache
   * entry of `primary` afterwards (undefined once deleted). Throws ApiError 422 with the build's
   * causes when the result is invalid. A dry run validates and returns the object it would store.
   */
  commit(
    primary: Target,
    changes: readonly { t: Target; change: Change }[],
    opts: { dryRun?: boolean } = {},
  ): Entry | Obj | undefined {
    const host = this.host;
    if (!host) throw errors.internal('the cluster is not running yet');
    const objects: Record<string, OverlayEntry> = { ...this.state.objects };
    const deletedPods: Record<string, readonly string[]> = { ...this.state.deletedPods };
    for (const { t, change } of changes) {
      const id = `${resourceId(t.resource)}/${keyOf(t)}`;
      const fileFp = fileFingerprint(this.fileObjects.get(id));
      switch (change.kind) {
        case 'put':
          objects[id] = { body: change.body, fileFp };
          break;
        case 'delete':
          if (fileFp !== null) objects[id] = { fileFp };
          else delete objects[id];
          break;
        case 'deletePod':
          deletedPods[change.workload] = [...(deletedPods[change.workload] ?? []), change.pod].slice(
            -DELETED_PODS_KEPT,
          );
          break;
      }
    }
    const next: StateData = { resourceVersion: this.cache.resourceVersion, objects, deletedPods };
    const c = compose(this.parsed, next, {
      version: host.nextVersion(),
      ...(this.latestBase ? { previous: this.latestBase } : {}),
    });
    if (!c.result.ok) throw invalid(primary, c.result.diagnostics);
    const res = resourceId(primary.resource);
    const key = keyOf(primary);
    if (opts.dryRun) return renderCluster(c.result.snapshot, c.stored).get(res)?.get(key)?.obj;
    writeState(this.stateDir, next);
    this.state = next;
    this.fileObjects = c.fileObjects;
    this.stored = c.stored;
    this.latestBase = c.result.snapshot;
    this.rendered = c.result.snapshot;
    this.cache.update(
      renderCluster(c.result.snapshot, c.stored, this.live),
      new Date(this.clock()).toISOString(),
    );
    host
      .adopt(c.result.snapshot)
      .catch((e: unknown) => this.log.error({ err: String(e) }, 'adopting the API change failed'));
    return this.cache.get(res, key);
  }

  /** Warnings the last build found for one object (kubectl prints them as `Warning: ...`). */
  warningsFor(t: Target): string[] {
    const snap = this.latestBase;
    if (!snap) return [];
    return snap.warnings
      .filter(
        (d) =>
          d.object?.kind === t.resource.kind &&
          d.object.name === t.name &&
          (d.object.namespace ?? '') === t.namespace,
      )
      .map((d) => (d.field ? `${d.field}: ${d.message}` : d.message));
  }

  /** Persisted resourceVersion counter (written with the next write or at stop). */
  flush(): void {
    writeState(this.stateDir, { ...this.state, resourceVersion: this.cache.resourceVersion });
  }
}

function keyOf(t: Target): string {
  return t.namespace ? `${t.namespace}/${t.name}` : t.name;
}

function invalid(t: Target, diags: readonly Diagnostic[]): ApiError {
  const errs = diags.filter((d) => d.severity === 'error');
  const mine = errs.filter(
    (d) =>
      d.object &&
      d.object.kind === t.resource.kind &&
      d.object.name === t.name &&
      (d.object.namespace ?? '') === t.namespace,
  );
  const list = mine.length ? mine : errs;
  const causes: StatusCause[] = list.map((d) => ({
    reason: 'FieldValueInvalid',
    message: mine.length ? d.message : formatDiagnostic(d).replace(/^<api:[^>]*>:\d+:\d+: error: /, ''),
    ...(d.field && mine.length ? { field: d.field } : {}),
  }));
  return errors.invalid(
    { group: t.resource.group, resource: t.resource.name, kind: t.resource.kind, name: t.name },
    causes,
  );
}
