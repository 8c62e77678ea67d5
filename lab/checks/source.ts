/**
 * Who sends a check's traffic: `pod/NS/NAME`, `node/NAME`, `external` (a client outside the cluster at
 * EXTERNAL_CLIENT) or `external/IP`. The same parser as `kpath curl --from`, so a check's `from` is what
 * the learner types.
 */
import type { ClusterSnapshot } from '../../netmodel/cluster/index.js';
import type { TwinMap } from '../../netmodel/twins.js';
import { type ClientSource, parseSource, type Resolution, resolveHost } from '../../proxy/client/index.js';
import { fieldError } from './types.js';

/** The outside client's model address when a check says `from: external` (TEST-NET-1, RFC 5737). */
export const EXTERNAL_CLIENT = '192.0.2.10';

const FROM = /^(pod\/[a-z0-9.-]+(\/[a-z0-9.-]+)?|node\/[a-z0-9.-]+|external(\/[0-9.]+)?)$/;

export function checkFrom(v: unknown, where: string): string {
  if (typeof v !== 'string' || !FROM.test(v))
    throw fieldError(where, 'from', 'required: pod/NAMESPACE/NAME, node/NAME, external or external/IP');
  return v === 'external' ? `external/${EXTERNAL_CLIENT}` : v;
}

/** The source in the running cluster, or why it cannot send (the pod is gone, has no address...). */
export function sourceIn(
  from: string,
  snap: ClusterSnapshot,
  twins: TwinMap,
): { src: ClientSource } | { error: string } {
  try {
    return { src: parseSource(from, snap, twins) };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

/** ms a DNS query waits for its answer before the one retry (glibc: timeout 5, attempts 2). */
export const DNS_TIMEOUT_MS = 2000;

/**
 * `host` resolved as the pod's resolver does it, through the cluster's kube-dns, with one retry
 * when no answer came back in time (a resolver's second attempt; a busy machine can lose one).
 */
export async function resolveFrom(
  host: string,
  src: ClientSource,
  snap: ClusterSnapshot,
  twins: TwinMap,
): Promise<Resolution> {
  try {
    return await resolveHost(host, src, snap, twins, DNS_TIMEOUT_MS);
  } catch {
    return await resolveHost(host, src, snap, twins, DNS_TIMEOUT_MS);
  }
}
