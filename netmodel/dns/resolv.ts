/**
 * What a pod's resolver does with a name: the resolv.conf kubelet writes for a ClusterFirst pod and the
 * queries glibc sends for it (res_nsearch with `options ndots:5`, A and AAAA in parallel per step, as
 * getaddrinfo does), each with the answer the zone gives. For `kpath dns resolve NAME --from pod`.
 */
import type { Answerer } from './answer.js';
import type { Message } from './message.js';
import { rcodeOf } from './message.js';
import { RRType, rcodeName } from './wire-constants.js';

export interface PodResolvConfInput {
  readonly namespace: string;
  /** cluster domain, e.g. `cluster.local` */
  readonly domain: string;
  /** The kube-dns ClusterIP(s). */
  readonly nameservers: readonly string[];
  /** default 5 (kubelet) */
  readonly ndots?: number;
  /** The node's own search domains, appended after the cluster ones (duplicates dropped). */
  readonly hostSearch?: readonly string[];
  /** false for `dnsPolicy: None`: no cluster search domains, only the given ones. Default true. */
  readonly clusterSearch?: boolean;
}

export interface PodResolvConf {
  readonly nameservers: readonly string[];
  readonly search: readonly string[];
  readonly ndots: number;
  /** The file as kubelet writes it. */
  readonly text: string;
}

/** The resolv.conf of a ClusterFirst pod (pkg/kubelet/network/dns). */
export function podResolvConf(i: PodResolvConfInput): PodResolvConf {
  const domain = i.domain.replace(/\.$/, '').toLowerCase();
  const search: string[] = [];
  const cluster = i.clusterSearch === false ? [] : [`${i.namespace}.svc.${domain}`, `svc.${domain}`, domain];
  for (const s of [...cluster, ...(i.hostSearch ?? [])]) {
    const d = s.replace(/\.$/, '');
    if (d && !search.includes(d)) search.push(d);
  }
  const ndots = i.ndots ?? 5;
  const nameservers = i.nameservers.slice(0, 3);
  const text = `${nameservers.map((n) => `nameserver ${n}`).join('\n')}\nsearch ${search.join(' ')}\noptions ndots:${ndots}\n`;
  return { nameservers, search, ndots, text };
}

export interface ResolveQuery {
  /** absolute name queried, with the trailing dot */
  readonly name: string;
  readonly type: 'A' | 'AAAA';
  readonly rcode: string;
  readonly answerCount: number;
  readonly reply: Message;
}

export interface ResolveResult {
  readonly conf: PodResolvConf;
  /** Every query sent, in order (A then AAAA for each candidate), up to the step that succeeded. */
  readonly queries: readonly ResolveQuery[];
  /** The candidate name that resolved, or undefined when every candidate failed. */
  readonly resolved?: string;
}

/** The candidate names glibc tries, in order. */
export function searchCandidates(name: string, conf: Pick<PodResolvConf, 'search' | 'ndots'>): string[] {
  if (name.endsWith('.')) return [name];
  const dots = name.split('.').length - 1;
  const searched = conf.search.map((d) => `${name}.${d}.`);
  return dots >= conf.ndots ? [`${name}.`, ...searched] : [...searched, `${name}.`];
}

/** Resolve `name` as a pod in `conf` would, against the answerer. Pure. */
export function resolveFromPod(answerer: Answerer, name: string, conf: PodResolvConf): ResolveResult {
  const queries: ResolveQuery[] = [];
  for (const cand of searchCandidates(name, conf)) {
    let ok = false;
    for (const type of ['A', 'AAAA'] as const) {
      const reply = answerer.query(cand, type === 'A' ? RRType.A : RRType.AAAA);
      const rcode = rcodeOf(reply);
      queries.push({ name: cand, type, rcode: rcodeName(rcode), answerCount: reply.answers.length, reply });
      if (rcode === 0 && reply.answers.length > 0) ok = true;
    }
    if (ok) return { conf, queries, resolved: cand };
  }
  return { conf, queries };
}
