/**
 * A deterministic scheduler. Filters as kube-scheduler does for the fields kpath models (nodeName,
 * nodeSelector, NoSchedule/NoExecute taints vs tolerations, unschedulable, not-ready), then scores
 * by spreading a workload's own pods: fewest pods of the same owner on the node (kube-scheduler's
 * default topology spread over hostnames), a tie going to the node that ranks first for this pod by
 * a hash of (namespace, pod name, node name) (rendezvous hashing).
 *
 * Nothing outside the pod's own workload enters the score, so a pod's node depends only on its
 * workload's earlier pods, its own name and the nodes: scaling or editing one workload never moves
 * another's pods, in a one-shot `kpath get` as under `kpath up` (which also keeps every running pod
 * where it was, build.ts keptPlacements). Scaling up keeps a workload's existing pods where they
 * were too: pod i is placed after pods 0..i-1.
 */
import { mix32 } from './hash.js';
import type { Node, Pod, Taint, Toleration } from './objects.js';

export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.operator === 'Exists') return t.key === undefined || t.key === '' || t.key === taint.key;
  return t.key === taint.key && (t.value ?? '') === taint.value;
}

/** Why a node rejects a pod, in kube-scheduler's words, or undefined if it fits. */
export function unfitReason(pod: Pod, node: Node): string | undefined {
  if (node.unschedulable) {
    const ok = pod.tolerations.some((t) =>
      tolerates(t, { key: 'node.kubernetes.io/unschedulable', value: '', effect: 'NoSchedule' }),
    );
    if (!ok) return 'node(s) were unschedulable';
  }
  if (!node.ready) {
    const ok = pod.tolerations.some((t) =>
      tolerates(t, { key: 'node.kubernetes.io/not-ready', value: '', effect: 'NoSchedule' }),
    );
    if (!ok) return 'node(s) had untolerated taint {node.kubernetes.io/not-ready: }';
  }
  for (const [k, v] of Object.entries(pod.nodeSelector)) {
    if (node.meta.labels[k] !== v) return "node(s) didn't match Pod's node affinity/selector";
  }
  for (const taint of node.taints) {
    if (taint.effect === 'PreferNoSchedule') continue;
    if (!pod.tolerations.some((t) => tolerates(t, taint))) {
      return `node(s) had untolerated taint {${taint.key}: ${taint.value}}`;
    }
  }
  return undefined;
}

/** kube-scheduler's FailedScheduling message: `0/3 nodes are available: 2 node(s) had ..., 1 ...`. */
export function unschedulableMessage(pod: Pod, nodes: readonly Node[]): string {
  const counts = new Map<string, number>();
  for (const n of nodes) {
    const r = unfitReason(pod, n);
    if (r) counts.set(r, (counts.get(r) ?? 0) + 1);
  }
  const parts = [...counts.entries()].sort((a, b) => a[0].localeCompare(b[0])).map(([r, c]) => `${c} ${r}`);
  return `0/${nodes.length} nodes are available${parts.length ? `: ${parts.join(', ')}` : ''}`;
}

function ownerKey(p: Pod): string {
  const o = p.meta.ownerReferences?.[0];
  return o ? `${o.kind}/${o.name}` : '';
}

/** The pod's rendezvous rank of a node (lower first). */
function rank(pod: Pod, node: string): number {
  return mix32(`${pod.meta.namespace}/${pod.meta.name}@${node}`);
}

export class Scheduler {
  private readonly nodes: readonly Node[];
  private readonly byOwner = new Map<string, number>();

  constructor(nodes: readonly Node[]) {
    this.nodes = [...nodes].sort((a, b) =>
      a.meta.name < b.meta.name ? -1 : a.meta.name > b.meta.name ? 1 : 0,
    );
  }

  /** Count a pod that is already bound (given nodeName). */
  account(pod: Pod, nodeName: string): void {
    const ok = ownerKey(pod);
    if (ok) this.byOwner.set(`${ok}@${nodeName}`, (this.byOwner.get(`${ok}@${nodeName}`) ?? 0) + 1);
  }

  /** Pick a node, or undefined when none fits. */
  place(pod: Pod): string | undefined {
    const ok = ownerKey(pod);
    let best: Node | undefined;
    let bestScore: [number, number] = [Infinity, Infinity];
    for (const n of this.nodes) {
      if (unfitReason(pod, n)) continue;
      const score: [number, number] = [
        ok ? (this.byOwner.get(`${ok}@${n.meta.name}`) ?? 0) : 0,
        rank(pod, n.meta.name),
      ];
      if (score[0] < bestScore[0] || (score[0] === bestScore[0] && score[1] < bestScore[1])) {
        best = n;
        bestScore = score;
      }
    }
    if (best) this.account(pod, best.meta.name);
    return best?.meta.name;
  }

  eligibleNodes(pod: Pod): Node[] {
    return this.nodes.filter((n) => !unfitReason(pod, n));
  }
}
