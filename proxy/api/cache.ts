/**
 * The objects the API serves, each with the metadata the apiserver keeps: resourceVersion (one
 * counter for all objects, as etcd's revision), generation (bumped when anything but metadata and
 * status changes) and creationTimestamp (when kpath first saw it, unless the object carries one).
 * Every update diffs the newly rendered cluster against the cache and turns the differences into
 * watch events; a ring of recent events lets a watch resume from a resourceVersion.
 */
import type { Obj, Rendered, RenderedCluster } from './render.js';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface Entry {
  readonly obj: Obj;
  readonly rv: number;
  readonly derived: boolean;
  readonly owner?: string;
  readonly generation: number;
  /** Fingerprints: of the rendered object, and of its spec part (for generation). */
  readonly fp: string;
  readonly specFp: string;
}

export interface WatchEvent {
  readonly rv: number;
  readonly resource: string;
  readonly key: string;
  readonly type: EventType;
  readonly obj: Obj;
}

export type WatchListener = (e: WatchEvent) => void;

/** Events kept for watches that resume from an older resourceVersion. */
export const EVENT_HISTORY = 10_000;

const GENERATIONLESS = new Set([
  'pods',
  'endpoints',
  'discovery.k8s.io/endpointslices',
  'configmaps',
  'events',
]);

/**
 * Fingerprints are JSON text: rendering is deterministic (same input, same key order), so plain
 * JSON.stringify (native) does what canonical JSON would at a fraction of the cost.
 */
function specPart(o: Obj): string {
  const { metadata: _m, status: _s, ...rest } = o;
  return JSON.stringify(rest);
}

function metaOf(o: Obj): Obj {
  return (o.metadata as Obj | undefined) ?? {};
}

export class ObjectCache {
  private counter: number;
  private readonly entries = new Map<string, Map<string, Entry>>();
  private readonly history: WatchEvent[] = [];
  private readonly firstSeen = new Map<string, string>();
  private readonly listeners = new Set<WatchListener>();

  constructor(
    startRv = 0,
    private readonly historySize = EVENT_HISTORY,
  ) {
    this.counter = startRv;
  }

  /** The latest resourceVersion (a list's metadata.resourceVersion). */
  get resourceVersion(): number {
    return this.counter;
  }

  /** The oldest resourceVersion a watch may resume from. */
  get oldestResumable(): number {
    return this.history.length ? this.history[0]!.rv - 1 : this.counter;
  }

  get(resource: string, key: string): Entry | undefined {
    return this.entries.get(resource)?.get(key);
  }

  list(resource: string): Entry[] {
    return [...(this.entries.get(resource)?.values() ?? [])];
  }

  /** Replace the whole cluster; returns the events it produced, in order. */
  update(rendered: RenderedCluster, now: string): WatchEvent[] {
    const events: WatchEvent[] = [];
    for (const [resource, objs] of rendered) {
      let cur = this.entries.get(resource);
      if (!cur) {
        cur = new Map();
        this.entries.set(resource, cur);
      }
      for (const [key, r] of objs) {
        const prev = cur.get(key);
        const e = this.entryFor(resource, key, r, prev, now);
        if (!e) continue;
        cur.set(key, e);
        events.push({ rv: e.rv, resource, key, type: prev ? 'MODIFIED' : 'ADDED', obj: e.obj });
      }
      for (const [key, prev] of cur) {
        if (objs.has(key)) continue;
        cur.delete(key);
        this.firstSeen.delete(`${resource}/${key}`);
        const rv = ++this.counter;
        const obj = structuredClone(prev.obj);
        metaOf(obj).resourceVersion = String(rv);
        events.push({ rv, resource, key, type: 'DELETED', obj });
      }
    }
    for (const [resource, cur] of this.entries) {
      if (rendered.has(resource)) continue;
      for (const [key, prev] of cur) {
        const rv = ++this.counter;
        events.push({ rv, resource, key, type: 'DELETED', obj: prev.obj });
      }
      cur.clear();
    }
    for (const e of events) {
      this.history.push(e);
      for (const l of [...this.listeners]) l(e);
    }
    if (this.history.length > this.historySize)
      this.history.splice(0, this.history.length - this.historySize);
    return events;
  }

  private entryFor(
    resource: string,
    key: string,
    r: Rendered,
    prev: Entry | undefined,
    now: string,
  ): Entry | undefined {
    const obj = r.obj;
    const meta = metaOf(obj);
    const seenKey = `${resource}/${key}`;
    if (typeof meta.creationTimestamp !== 'string') {
      let t = this.firstSeen.get(seenKey);
      if (!t) {
        t = (prev && (metaOf(prev.obj).creationTimestamp as string | undefined)) ?? now;
        this.firstSeen.set(seenKey, t);
      }
      meta.creationTimestamp = t;
    }
    const body = specPart(obj);
    const specFp = GENERATIONLESS.has(resource) ? '' : body;
    const generation = GENERATIONLESS.has(resource)
      ? 0
      : prev
        ? prev.specFp === specFp
          ? prev.generation
          : prev.generation + 1
        : typeof meta.generation === 'number'
          ? meta.generation
          : 1;
    if (generation) {
      meta.generation = generation;
      const status = obj.status as Obj | undefined;
      if (status && resource.startsWith('apps/')) status.observedGeneration = generation;
    } else delete meta.generation;
    delete meta.resourceVersion;
    // The whole object's fingerprint from its three parts, the spec part already serialised once.
    const fp = `${body}\u0000${JSON.stringify(meta)}\u0000${JSON.stringify(obj.status ?? null)}`;
    if (prev && prev.fp === fp && prev.derived === r.derived) return undefined;
    const rv = ++this.counter;
    meta.resourceVersion = String(rv);
    // Key order as the apiserver writes metadata: name, generateName, namespace, uid, resourceVersion, ...
    obj.metadata = orderMeta(meta);
    return { obj, rv, derived: r.derived, ...(r.owner ? { owner: r.owner } : {}), generation, fp, specFp };
  }

  /**
   * Events after `fromRv`, then every new one, to `listener` (synchronously, in order). Returns the
   * cancel function, or undefined when `fromRv` is older than the history kept (410 Gone).
   */
  watch(fromRv: number, listener: WatchListener): (() => void) | undefined {
    if (fromRv < this.oldestResumable) return undefined;
    for (const e of this.history) if (e.rv > fromRv) listener(e);
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get watchers(): number {
    return this.listeners.size;
  }
}

const META_ORDER = [
  'name',
  'generateName',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'labels',
  'annotations',
  'ownerReferences',
  'finalizers',
  'managedFields',
];

function orderMeta(m: Obj): Obj {
  const out: Obj = {};
  for (const k of META_ORDER) if (k in m) out[k] = m[k];
  for (const k of Object.keys(m)) if (!(k in out)) out[k] = m[k];
  return out;
}
