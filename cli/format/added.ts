/** The note `kpath get` prints (on stderr) when what it shows includes objects kpath added itself. */
import {
  ADDED_ANNOTATION,
  type ClusterSnapshot,
  type Pod,
  type Service,
} from '../../netmodel/cluster/index.js';

export function addedNote(snap: ClusterSnapshot, services: readonly Service[], pods: readonly Pod[]): string {
  const added = new Map<string, string>();
  for (const s of services) {
    const why = s.meta.annotations[ADDED_ANNOTATION];
    if (why) added.set(`service/${s.meta.namespace}/${s.meta.name}`, why);
  }
  for (const w of snap.workloads) {
    const why = w.meta.annotations[ADDED_ANNOTATION];
    if (!why) continue;
    const owns = (p: Pod) =>
      p.meta.namespace === w.meta.namespace &&
      (p.meta.ownerReferences ?? []).some(
        (o) => o.name === w.meta.name || o.name.startsWith(`${w.meta.name}-`),
      );
    const mine = pods.filter(owns);
    if (mine.length)
      added.set(
        `${w.kind.toLowerCase()}/${w.meta.namespace}/${w.meta.name} (pods ${mine.map((p) => p.meta.name).join(', ')})`,
        why,
      );
  }
  if (added.size === 0) return '';
  const reasons = [...new Set(added.values())];
  return `note: added by kpath: ${[...added.keys()].join(', ')}: ${reasons.join('; ')}\n`;
}
