/**
 * A versioned store of immutable snapshots. Files, the CLI and (later) a live API watch all become
 * `apply` calls; subscribers get the old and new snapshot and which objects changed, so the rule
 * renderers, the listeners and DNS can reconcile instead of rebuilding.
 */
import { canonicalJson } from './hash.js';
import { ClusterSnapshot, type SnapshotParts } from './snapshot.js';

export interface KindDiff {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: readonly string[];
}

export interface ClusterChange {
  readonly from: ClusterSnapshot | undefined;
  readonly to: ClusterSnapshot;
  readonly services: KindDiff;
  readonly endpointSlices: KindDiff;
  readonly pods: KindDiff;
  readonly nodes: KindDiff;
  /** NetworkPolicies and namespaces (whose labels namespaceSelectors read). */
  readonly networkPolicies: KindDiff;
  readonly namespaces: KindDiff;
  /** The Cluster or kube-proxy configuration changed (consumers usually rebuild everything). */
  readonly configChanged: boolean;
}

export type Subscriber = (change: ClusterChange) => void;

/** A fingerprint of an object's meaning: no source positions, no raw text. */
export function fingerprint(o: unknown): string {
  return canonicalJson(
    JSON.parse(
      JSON.stringify(o, (k, v) => {
        if (k === 'origin' || k === 'raw') return undefined;
        if (typeof v === 'bigint') return v.toString();
        return v;
      }),
    ),
  );
}

function diffBy<T extends { meta: { namespace: string; name: string } }>(
  a: readonly T[] | undefined,
  b: readonly T[],
  key: (o: T) => string = (o) => `${o.meta.namespace}/${o.meta.name}`,
): KindDiff {
  const before = new Map((a ?? []).map((o) => [key(o), o]));
  const after = new Map(b.map((o) => [key(o), o]));
  const added: string[] = [];
  const removed: string[] = [];
  const changed: string[] = [];
  for (const [k, o] of after) {
    const prev = before.get(k);
    if (!prev) added.push(k);
    else if (prev !== o && fingerprint(prev) !== fingerprint(o)) changed.push(k);
  }
  for (const k of before.keys()) if (!after.has(k)) removed.push(k);
  return { added: added.sort(), removed: removed.sort(), changed: changed.sort() };
}

export function diffSnapshots(from: ClusterSnapshot | undefined, to: ClusterSnapshot): ClusterChange {
  return {
    from,
    to,
    services: diffBy(from?.services, to.services),
    endpointSlices: diffBy(from?.endpointSlices, to.endpointSlices),
    pods: diffBy(from?.pods, to.pods),
    nodes: diffBy(from?.nodes, to.nodes),
    networkPolicies: diffBy(from?.networkPolicies, to.networkPolicies),
    namespaces: diffBy(from?.namespaces, to.namespaces),
    configChanged:
      !from ||
      fingerprint(from.config) !== fingerprint(to.config) ||
      fingerprint(from.proxy) !== fingerprint(to.proxy),
  };
}

export function isEmptyChange(c: ClusterChange): boolean {
  const empty = (d: KindDiff) => d.added.length + d.removed.length + d.changed.length === 0;
  return (
    !c.configChanged &&
    empty(c.services) &&
    empty(c.endpointSlices) &&
    empty(c.pods) &&
    empty(c.nodes) &&
    empty(c.networkPolicies) &&
    empty(c.namespaces)
  );
}

export class ClusterStore {
  private snap: ClusterSnapshot | undefined;
  private readonly subs = new Set<Subscriber>();

  constructor(initial?: ClusterSnapshot) {
    this.snap = initial;
  }

  /** The current snapshot, or undefined before the first apply. */
  current(): ClusterSnapshot | undefined {
    return this.snap;
  }

  get version(): number {
    return this.snap?.version ?? 0;
  }

  /**
   * Replace the cluster with `parts` (a new snapshot one version higher). Subscribers are told what
   * changed; an apply that changes nothing keeps the current snapshot and notifies no one.
   */
  apply(parts: SnapshotParts): ClusterChange | undefined {
    const next = new ClusterSnapshot(parts, this.version + 1);
    const change = diffSnapshots(this.snap, next);
    if (this.snap && isEmptyChange(change)) return undefined;
    this.snap = next;
    for (const s of [...this.subs]) s(change);
    return change;
  }

  /** Subscribe to changes; returns the unsubscribe function. */
  subscribe(fn: Subscriber): () => void {
    this.subs.add(fn);
    return () => this.subs.delete(fn);
  }
}
