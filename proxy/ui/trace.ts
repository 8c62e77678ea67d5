/**
 * The trace view's JSON: computeTrace (the same computation as `kpath trace`) on the running
 * cluster, with every node the packet crosses shown in full (hooks, tables, chains, the rules that
 * matched as iptables-save text, DNAT and masquerade), where it arrives, and the reply's path.
 */
import type { ClusterSnapshot } from '../../netmodel/cluster/index.js';
import type { L4Proto } from '../../netmodel/packet.js';
import { describePacket } from '../../netmodel/packet.js';
import { type OutcomeJson, outcomeJson } from '../../netmodel/trace/index.js';
import { computeTrace, type TraceRequest } from '../trace-compute.js';
import { type Arrival, arrivalText, type Journey } from '../trace-follow.js';
import { type PolicyStage, policyStageJson, policyStageText } from '../trace-policy.js';

export interface UiTraceQuery {
  /** pod/NS/NAME, node/NAME, or an outside address IP[:PORT] */
  readonly from: string;
  /** svc/NS/NAME[:PORT], pod/NS/NAME:PORT or node/NAME:PORT */
  readonly to: string;
  /** The node an outside packet arrives at (default: the first node). */
  readonly node?: string;
  readonly proto?: string;
  readonly all?: boolean;
  readonly seed?: number;
}

export interface UiHop {
  readonly node: string;
  readonly walk: OutcomeJson;
}

function hopsOf(j: Journey, first?: OutcomeJson): UiHop[] {
  return j.hops.map((h, i) => ({ node: h.node, walk: i === 0 && first ? first : outcomeJson(h.walk, 1, 0) }));
}

function arrivalJson(a: Arrival) {
  return {
    kind: a.kind,
    text: arrivalText(a),
    ...(a.kind === 'pod' ? { pod: a.pod, node: a.node } : {}),
    ...(a.kind === 'node' || a.kind === 'stopped' ? { node: a.node } : {}),
  };
}

const policyJson = (s: PolicyStage | undefined) =>
  s ? { ...policyStageJson(s), text: policyStageText(s) } : null;

const PROTOS = new Set(['tcp', 'udp', 'sctp']);

/** Throws KpathError for a query that cannot be traced (bad source, unknown service, ...). */
export function uiTrace(snap: ClusterSnapshot, q: UiTraceQuery) {
  const outside = !/^(pod|node)\//.test(q.from);
  if (q.proto !== undefined && !PROTOS.has(q.proto))
    throw new TypeError(`proto ${q.proto}: expected tcp, udp or sctp`);
  const req: TraceRequest = {
    snapshot: snap,
    ...(outside ? { src: q.from, node: q.node || (snap.nodes[0]?.meta.name ?? '') } : { from: q.from }),
    ...(!outside && q.node ? { node: q.node } : {}),
    to: q.to,
    ...(q.proto ? { proto: q.proto as L4Proto } : {}),
    ...(q.seed !== undefined ? { seed: q.seed } : {}),
    all: q.all ?? false,
    follow: true,
  };
  const t = computeTrace(req);
  return {
    node: t.nodeName,
    packet: describePacket(t.packet),
    entry: t.entry,
    total: t.total,
    note: t.note ?? null,
    outcomes: t.outcomes.map((o) => {
      const j = o.journey;
      return {
        probability: o.probability,
        verdict: o.json.verdict,
        dnat: o.json.dnat,
        snat: o.json.snat,
        masquerade: o.json.masquerade,
        forward: j ? hopsOf(j.there, o.json) : [{ node: t.nodeName, walk: o.json }],
        arrived: j ? arrivalJson(j.there.arrival) : null,
        policy: {
          egress: policyJson(j?.there.egress),
          ingress: policyJson(j?.there.ingress),
        },
        reply: j?.back ? hopsOf(j.back) : [],
        replyArrived: j?.back ? arrivalJson(j.back.arrival) : null,
      };
    }),
  };
}

export type UiTrace = ReturnType<typeof uiTrace>;
