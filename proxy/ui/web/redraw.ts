/**
 * Which state a topology redraw starts from. The topology (GET /ui/api/topology) and each live
 * message (/ui/api/events) come from the same versioned snapshot, readiness folded in, and every
 * readiness change makes a new version. A redraw draws the newest of the two: the live stream's
 * readiness when its message is as new as the fetched topology or newer, the topology's own when it
 * is newer (an older live message would draw a pod as it was before). Pure, so tests run it in Node.
 */
import type { Live, Topology } from './types.js';

/** The live message's readiness may be drawn onto this topology (it is not older). */
export function liveIsCurrent(t: Topology, live: Live | undefined): live is Live {
  return live !== undefined && live.version >= t.version;
}

/** The live state is ahead of the drawn topology: fetch the topology again. */
export function topologyBehind(t: Topology, live: Live): boolean {
  return live.version > t.version;
}

/** The topology to draw: its pods' readiness from the live message when that is current. */
export function topologyToDraw(t: Topology, live: Live | undefined): Topology {
  if (!liveIsCurrent(t, live)) return t;
  const ready = new Map(live.pods.map((p) => [p.pod, p.ready]));
  const pod = (p: Topology['unscheduled'][number]) => {
    const r = ready.get(`${p.namespace}/${p.name}`);
    return r === undefined || r === p.ready ? p : { ...p, ready: r };
  };
  return {
    ...t,
    nodes: t.nodes.map((n) => ({ ...n, pods: n.pods.map(pod) })),
    unscheduled: t.unscheduled.map(pod),
  };
}
