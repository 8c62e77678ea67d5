/**
 * kind: dns — what a pod's resolver gets from the cluster's real kube-dns: the pod's resolv.conf
 * (search path, ndots) applied to NAME, each candidate asked over real UDP from the pod's twin to the
 * kube-dns service (so the proxy, the endpoints and the DNS pods are all on the path), as `dig +search`:
 *
 *   - name: db resolves
 *     kind: dns
 *     from: pod/default/client
 *     query: db             # searched unless it ends with a dot
 *     type: A               # default A
 *     timeoutMs: 2000       # per query (default), one retry
 *     expect:
 *       rcode: NOERROR      # default NOERROR
 *       answers: [10.96.0.60]   # each must be the data of some answer record (an address, a CNAME target)
 *       minAnswers: 1       # default 1 when rcode is NOERROR
 *
 * The search stops at the first candidate with an answer of any type (a CNAME counts); with none, the
 * last candidate's rcode is the result.
 */
import { parseIP } from '../../netmodel/addr.js';
import {
  fqdn,
  kubeDnsAddresses,
  parseTypeName,
  podResolvConf,
  podResolvConfOf,
  rcodeName,
  rcodeOf,
  rdataText,
  searchCandidates,
  typeName,
} from '../../netmodel/dns/index.js';
import { dnsPort, query } from '../../proxy/client/index.js';
import { checkFrom, DNS_TIMEOUT_MS, sourceIn } from './source.js';
import {
  type CheckEnv,
  type CheckKind,
  fieldError,
  onlyKeys,
  optNumber,
  optObject,
  optString,
  reqString,
  type Verdict,
} from './types.js';

export interface DnsSpec {
  readonly from: string;
  readonly name: string;
  readonly type: number;
  readonly timeoutMs: number;
  readonly expect: {
    readonly rcode: string;
    readonly answers: readonly string[];
    readonly minAnswers: number;
  };
}

export interface DnsObserved {
  /** Why nothing was asked or answered (no kube-dns, a timeout), when so. */
  readonly error?: string;
  readonly steps: readonly {
    readonly name: string;
    readonly rcode: string;
    readonly answers: readonly string[];
  }[];
}

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

export function parseDns(raw: Readonly<Record<string, unknown>>, where: string): DnsSpec {
  onlyKeys(raw, ['name', 'kind', 'from', 'query', 'type', 'timeoutMs', 'expect'], where);
  const name = reqString(raw, 'query', where);
  const typeText = optString(raw, 'type', where) ?? 'A';
  const type = parseTypeName(typeText);
  if (type === undefined) throw fieldError(where, 'type', `"${typeText}" is not a DNS record type`);
  const e = optObject(raw, 'expect', where);
  const w = `${where}: expect`;
  onlyKeys(e, ['rcode', 'answers', 'minAnswers'], w);
  const rcode = (optString(e, 'rcode', w) ?? 'NOERROR').toUpperCase();
  if (!RCODES.includes(rcode)) throw fieldError(w, 'rcode', `"${rcode}" is not one of ${RCODES.join(', ')}`);
  const answers = e.answers ?? [];
  if (!Array.isArray(answers) || answers.some((a) => typeof a !== 'string'))
    throw fieldError(w, 'answers', 'a list of record data (addresses, names)');
  return {
    from: checkFrom(raw.from, where),
    name,
    type,
    timeoutMs: optNumber(raw, 'timeoutMs', where, 100, 10_000) ?? DNS_TIMEOUT_MS,
    expect: {
      rcode,
      answers: (answers as string[]).map((a) => (/[a-z]/i.test(a) && !a.includes(':') ? fqdn(a) : a)),
      minAnswers: optNumber(e, 'minAnswers', w, 0, 100) ?? (rcode === 'NOERROR' ? 1 : 0),
    },
  };
}

export async function observeDns(env: CheckEnv, spec: DnsSpec): Promise<DnsObserved> {
  const s = sourceIn(spec.from, env.snap, env.twins);
  if ('error' in s) return { error: s.error, steps: [] };
  const nameservers = kubeDnsAddresses(env.snap);
  const server = nameservers[0];
  if (!server) return { error: 'the cluster has no kube-system/kube-dns service', steps: [] };
  const twin = env.twins.toLoopback(parseIP(server));
  if (!twin) return { error: `kube-dns ${server} has no loopback twin`, steps: [] };
  // A pod's own resolv.conf, its spec.dnsConfig (ndots, searches) merged in as kubelet does.
  const pod =
    s.src.kind === 'pod' ? env.snap.pod(s.src.namespace, s.src.label.split('/')[2] ?? '') : undefined;
  const conf = pod
    ? podResolvConfOf(env.snap, pod)
    : podResolvConf({ namespace: s.src.namespace, domain: env.snap.config.domain, nameservers });
  const port = env.realPort(dnsPort(env.snap));
  const steps: DnsObserved['steps'][number][] = [];
  let id = 0x6c61;
  for (const cand of searchCandidates(spec.name, conf)) {
    try {
      const ask = () => query(cand, spec.type, { host: twin.text, port }, s.src.bind, spec.timeoutMs, id++);
      // A resolver's second attempt when the first got no answer in time (glibc: attempts 2).
      const reply = await ask().catch(ask);
      const answers = reply.answers.map((a) => `${typeName(a.type)} ${rdataText(a.data)}`);
      steps.push({ name: cand, rcode: rcodeName(rcodeOf(reply)), answers });
      if (answers.length) break;
    } catch (e) {
      return {
        error: `no answer from kube-dns ${server} for ${cand} (${e instanceof Error ? e.message : String(e)})`,
        steps,
      };
    }
  }
  return { steps };
}

export function judgeDns(spec: DnsSpec, o: DnsObserved): Verdict {
  const what = `${spec.name} ${typeName(spec.type)} from ${spec.from}`;
  if (o.error) return { passed: false, detail: `${what}: ${o.error}` };
  const last = o.steps[o.steps.length - 1];
  if (!last) return { passed: false, detail: `${what}: nothing was asked` };
  const asked =
    o.steps.length > 1
      ? ` (the search path asked ${o.steps.map((x) => `${x.name} ${x.rcode}${x.answers.length ? '' : ' (no records)'}`).join(', ')})`
      : '';
  const got = `${last.rcode}${last.answers.length ? ` ${last.answers.join(', ')}` : ', no answer records'}`;
  const problems: string[] = [];
  if (last.rcode !== spec.expect.rcode) problems.push(`expected ${spec.expect.rcode}`);
  if (last.answers.length < spec.expect.minAnswers)
    problems.push(
      `expected at least ${spec.expect.minAnswers} answer record${spec.expect.minAnswers === 1 ? '' : 's'}`,
    );
  const data = last.answers.map((a) => a.slice(a.indexOf(' ') + 1));
  const missing = spec.expect.answers.filter((a) => !data.includes(a));
  if (missing.length) problems.push(`expected ${missing.join(', ')} among the answers`);
  return problems.length
    ? { passed: false, detail: `${what}: ${got}${asked}; ${problems.join('; ')}` }
    : { passed: true, detail: `${what}: ${got}${asked}` };
}

export const dns: CheckKind<DnsSpec, DnsObserved> = { parse: parseDns, observe: observeDns, judge: judgeDns };
