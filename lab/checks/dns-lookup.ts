/**
 * `kind: dns-lookup`: a name looked up from a pod the way its resolver does it, over real UDP to the
 * running kube-dns. The pod's resolv.conf is the one kubelet writes for it (its namespace's search
 * path, `spec.dnsConfig` merged in, so `ndots` counts); each candidate name is asked in turn, A and
 * AAAA as getaddrinfo sends them (or SRV alone), from the pod's own address, until one has answers.
 *
 *   - name: etcd-1 resolves its peer      from: pod/NS/NAME
 *     kind: dns-lookup                    lookup: NAME | lookupFromEnv: VAR (the pod's env; a URL's host)
 *     type: A | SRV                       expect: {target: svc/NS/NAME | pod/NS/NAME,
 *                                                  resolves: bool, maxQueries: N, port: N}
 *
 * `target` passes when the answers are that service's cluster IPs (a headless service: its endpoints'
 * addresses), or that pod's IP; for SRV, when the records point at the service's name (or the pod's
 * hostname under it) and, with `port`, carry that port.
 */
import { createSocket } from 'node:dgram';
import { parseIP } from '../../netmodel/addr.js';
import type { ClusterSnapshot, Pod } from '../../netmodel/cluster/index.js';
import {
  decodeMessage,
  encodeMessage,
  Flag,
  podResolvConfOf,
  RRClass,
  RRType,
  rcodeName,
  rcodeOf,
  searchCandidates,
} from '../../netmodel/dns/index.js';
import { checkFrom, sourceIn } from './source.js';
import type { CheckEnv, CheckKind, Verdict } from './types.js';
import { fieldError, onlyKeys, optNumber, optObject, optString } from './types.js';

export interface DnsLookupSpec {
  readonly from: string;
  readonly lookup?: string;
  readonly lookupFromEnv?: string;
  readonly type: 'A' | 'SRV';
  readonly expect: {
    readonly target?: string;
    readonly resolves?: boolean;
    readonly maxQueries?: number;
    readonly port?: number;
  };
}

export interface DnsQueryRecord {
  readonly name: string;
  readonly type: 'A' | 'AAAA' | 'SRV';
  /** NOERROR, NXDOMAIN, ... or TIMEOUT when no answer came. */
  readonly rcode: string;
  /** A/AAAA: addresses; SRV: `port target`. */
  readonly answers: readonly string[];
}

export interface DnsLookupObserved {
  /** The name looked up (from the check, or from the pod's environment). */
  readonly name: string;
  readonly queries: readonly DnsQueryRecord[];
  /** The candidate that gave answers. */
  readonly resolvedName?: string;
  /** What the target resolves to in the running cluster, for the judge. */
  readonly targetAddresses: readonly string[];
  readonly targetNames: readonly string[];
  /** The real port the expected one runs on (ports below 1024 may be moved). */
  readonly expectedPort?: number;
  /** Why nothing could be asked (no such pod, no variable). */
  readonly error?: string;
}

/**
 * Ms to wait for each answer, and how many times a query is sent before the resolver gives up (glibc's
 * `options timeout:5 attempts:2`, shortened: a query NetworkPolicy drops never gets an answer, and a
 * busy machine may be slow to give one).
 */
const QUERY_TIMEOUT_MS = 1500;
const QUERY_ATTEMPTS = 2;

function parse(raw: Readonly<Record<string, unknown>>, where: string): DnsLookupSpec {
  onlyKeys(raw, ['name', 'kind', 'from', 'lookup', 'lookupFromEnv', 'type', 'expect'], where);
  const from = checkFrom(raw.from, where);
  if (!from.startsWith('pod/') || from.split('/').length !== 3)
    throw fieldError(where, 'from', 'pod/NAMESPACE/NAME (the pod whose resolver looks the name up)');
  const lookup = optString(raw, 'lookup', where);
  const lookupFromEnv = optString(raw, 'lookupFromEnv', where);
  if (!lookup === !lookupFromEnv)
    throw fieldError(where, 'lookup', 'one of lookup (a name) or lookupFromEnv (a variable of the pod)');
  const type = optString(raw, 'type', where) ?? 'A';
  if (type !== 'A' && type !== 'SRV') throw fieldError(where, 'type', 'A or SRV');
  const e = optObject(raw, 'expect', where);
  onlyKeys(e, ['target', 'resolves', 'maxQueries', 'port'], `${where}: expect`);
  const target = optString(e, 'target', `${where}: expect`);
  if (target && !/^(svc|pod)\/[^/]+\/[^/]+$/.test(target))
    throw fieldError(where, 'expect.target', 'svc/NAMESPACE/NAME or pod/NAMESPACE/NAME');
  if (e.resolves !== undefined && typeof e.resolves !== 'boolean')
    throw fieldError(where, 'expect.resolves', 'true or false');
  const maxQueries = optNumber(e, 'maxQueries', `${where}: expect`, 1, 64);
  const port = optNumber(e, 'port', `${where}: expect`, 1, 65535);
  if (!target && e.resolves === undefined && maxQueries === undefined && port === undefined)
    throw fieldError(where, 'expect', 'at least one of target, resolves, maxQueries, port');
  return {
    from,
    ...(lookup ? { lookup } : {}),
    ...(lookupFromEnv ? { lookupFromEnv } : {}),
    type,
    expect: {
      ...(target ? { target } : {}),
      ...(typeof e.resolves === 'boolean' ? { resolves: e.resolves } : {}),
      ...(maxQueries !== undefined ? { maxQueries } : {}),
      ...(port !== undefined ? { port } : {}),
    },
  };
}

/** The value of a pod's environment variable (first container that sets it), a URL reduced to its host. */
export function envValue(pod: Pod, name: string): string | undefined {
  for (const c of pod.containers) {
    const v = c.env.find((x) => x.name === name)?.value;
    if (v !== undefined) return v;
  }
  return undefined;
}

/** A URL's host name, or the value itself when it is not a URL. */
export function hostOf(value: string): string {
  try {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return new URL(value).hostname;
  } catch {
    // not a URL: a host name
  }
  return value;
}

/** The addresses and names the expected target stands for in this cluster. */
function targetOf(snap: ClusterSnapshot, target: string): { addresses: string[]; names: string[] } {
  const [kind, ns, name] = target.split('/') as [string, string, string];
  const domain = snap.config.domain;
  if (kind === 'pod') {
    const pod = snap.pod(ns, name);
    const names = pod?.subdomain ? [`${pod.hostname ?? name}.${pod.subdomain}.${ns}.svc.${domain}.`] : [];
    return { addresses: pod?.podIPs.map((ip) => ip.text) ?? [], names };
  }
  const svc = snap.service(ns, name);
  if (!svc) return { addresses: [], names: [] };
  const addresses = svc.headless
    ? snap.slicesFor(svc).flatMap((sl) => sl.endpoints.flatMap((e) => e.addresses.map((a) => a.text)))
    : svc.clusterIPs.map((ip) => ip.text);
  return { addresses, names: [`${name}.${ns}.svc.${domain}.`] };
}

function query(
  name: string,
  type: 'A' | 'AAAA' | 'SRV',
  server: { host: string; port: number },
  bind: string,
  id: number,
): Promise<DnsQueryRecord> {
  const rrType = type === 'A' ? RRType.A : type === 'AAAA' ? RRType.AAAA : RRType.SRV;
  const q = encodeMessage({
    id,
    flags: Flag.RD,
    questions: [{ name, type: rrType, class: RRClass.IN }],
    answers: [],
    authority: [],
    additional: [],
  });
  return new Promise((resolve) => {
    const sock = createSocket('udp4');
    const done = (r: DnsQueryRecord) => {
      clearTimeout(timer);
      sock.close();
      resolve(r);
    };
    const timer = setTimeout(() => done({ name, type, rcode: 'TIMEOUT', answers: [] }), QUERY_TIMEOUT_MS);
    sock.on('error', (e) =>
      done({ name, type, rcode: `ERROR ${(e as NodeJS.ErrnoException).code}`, answers: [] }),
    );
    sock.on('message', (msg) => {
      try {
        const reply = decodeMessage(new Uint8Array(msg));
        const answers = reply.answers.flatMap((a) =>
          a.type !== rrType
            ? []
            : a.data.kind === 'address'
              ? [a.data.ip]
              : a.data.kind === 'srv'
                ? [`${a.data.port} ${a.data.target}`]
                : [],
        );
        done({ name, type, rcode: rcodeName(rcodeOf(reply)), answers });
      } catch {
        done({ name, type, rcode: 'FORMERR', answers: [] });
      }
    });
    sock.bind({ address: bind, port: 0 }, () => sock.send(q.bytes, server.port, server.host));
  });
}

async function observe(env: CheckEnv, spec: DnsLookupSpec): Promise<DnsLookupObserved> {
  const [, ns, podName] = spec.from.split('/') as [string, string, string];
  const snap = env.snap;
  const target = spec.expect.target ? targetOf(snap, spec.expect.target) : { addresses: [], names: [] };
  const base = {
    targetAddresses: target.addresses,
    targetNames: target.names,
    ...(spec.expect.port !== undefined ? { expectedPort: env.realPort(spec.expect.port) } : {}),
  };
  const fail = (name: string, error: string): DnsLookupObserved => ({ name, queries: [], ...base, error });
  const pod = snap.pod(ns, podName);
  if (!pod) return fail(spec.lookup ?? '', `pod ${ns}/${podName} does not exist`);
  let name = spec.lookup ?? '';
  if (spec.lookupFromEnv) {
    const v = envValue(pod, spec.lookupFromEnv);
    if (v === undefined)
      return fail('', `pod ${ns}/${podName} has no environment variable ${spec.lookupFromEnv}`);
    name = hostOf(v);
  }
  const source = sourceIn(spec.from, snap, env.twins);
  if ('error' in source) return fail(name, source.error);
  const bind = source.src.bind;
  const conf = podResolvConfOf(snap, pod);
  const dnsSvc = snap.service('kube-system', 'kube-dns');
  const serverIp = conf.nameservers[0];
  const serverTwin = serverIp ? env.twins.toLoopback(parseIP(serverIp)) : undefined;
  const port = dnsSvc?.ports.find((p) => p.protocol === 'UDP')?.port;
  if (!serverTwin || !port) return fail(name, 'the pod has no cluster nameserver (no kube-system/kube-dns)');
  const server = { host: serverTwin.text, port: env.realPort(port) };
  const queries: DnsQueryRecord[] = [];
  let id = 0x6c62;
  for (const cand of searchCandidates(name, conf)) {
    const types = spec.type === 'SRV' ? (['SRV'] as const) : (['A', 'AAAA'] as const);
    // getaddrinfo sends A and AAAA together and waits for both.
    const ask = async (t: 'A' | 'AAAA' | 'SRV') => {
      let r = await query(cand, t, server, bind, id++);
      for (let i = 1; i < QUERY_ATTEMPTS && r.rcode === 'TIMEOUT'; i++)
        r = await query(cand, t, server, bind, id++);
      return r;
    };
    const replies = await Promise.all(types.map(ask));
    queries.push(...replies);
    if (replies.some((r) => r.rcode === 'NOERROR' && r.answers.length > 0))
      return { name, queries, resolvedName: cand, ...base };
    // A timeout ends the lookup, as the resolver gives up (EAI_AGAIN) rather than trying further names.
    if (replies.some((r) => r.rcode === 'TIMEOUT')) break;
  }
  return { name, queries, ...base };
}

function queriesText(o: DnsLookupObserved): string {
  return o.queries
    .map((q) => `${q.type} ${q.name} ${q.rcode}${q.answers.length ? ` ${q.answers.join(',')}` : ''}`)
    .join('; ');
}

function judge(spec: DnsLookupSpec, o: DnsLookupObserved): Verdict {
  if (o.error) return { passed: false, detail: o.error };
  const shown = spec.lookupFromEnv ? `${o.name} (from ${spec.lookupFromEnv})` : o.name;
  const last = o.queries.at(-1);
  const resolved = o.resolvedName !== undefined;
  const answers = o.queries.filter((q) => q.name === o.resolvedName).flatMap((q) => q.answers);
  const problems: string[] = [];
  if (spec.expect.resolves !== undefined && resolved !== spec.expect.resolves)
    problems.push(
      resolved
        ? `${shown} resolved (as ${o.resolvedName} ${answers.join(', ')}); expected it not to`
        : `${shown} did not resolve; expected it to`,
    );
  if (spec.expect.target) {
    if (!resolved) {
      const why =
        last?.rcode === 'TIMEOUT'
          ? 'no answer came from kube-dns (timed out)'
          : `every name asked gave no answer`;
      problems.push(
        `${shown} did not resolve: ${why} after ${o.queries.length} queries (${queriesText(o)}); expected ${spec.expect.target}`,
      );
    } else if (spec.type === 'SRV') {
      const bare = (n: string) => n.replace(/\.$/, '').toLowerCase();
      const targets = answers.map((a) => a.split(' ')[1]!);
      const wanted = o.targetNames.map(bare);
      if (!targets.some((t) => wanted.some((n) => bare(t) === n || bare(t).endsWith(`.${n}`))))
        problems.push(`the SRV records point at ${targets.join(', ')}; expected ${spec.expect.target}`);
    } else if (
      !answers.length ||
      !answers.every((a) => o.targetAddresses.includes(a)) ||
      !o.targetAddresses.length
    )
      problems.push(
        `${shown} resolved as ${o.resolvedName} to ${answers.join(', ')}; expected ${spec.expect.target} (${o.targetAddresses.join(', ') || 'no address'})`,
      );
  }
  if (spec.expect.port !== undefined) {
    const ports = answers.map((a) => Number(a.split(' ')[0]));
    if (!resolved) {
      if (!spec.expect.target)
        problems.push(`${shown} gave no SRV records (${queriesText(o)}); expected port ${spec.expect.port}`);
    } else if (!ports.includes(o.expectedPort ?? spec.expect.port))
      problems.push(`the SRV records give port ${ports.join(', ')}; expected ${spec.expect.port}`);
  }
  if (spec.expect.maxQueries !== undefined && o.queries.length > spec.expect.maxQueries)
    problems.push(
      `looking up ${shown} sent ${o.queries.length} queries to kube-dns (${queriesText(o)}); expected at most ${spec.expect.maxQueries}`,
    );
  if (problems.length) return { passed: false, detail: problems.join('; ') };
  return {
    passed: true,
    detail: resolved
      ? `${shown} resolved as ${o.resolvedName} to ${answers.join(', ')} in ${o.queries.length} ${o.queries.length === 1 ? 'query' : 'queries'}`
      : `${shown} did not resolve (${o.queries.length} queries)`,
  };
}

export const dnsLookup: CheckKind<DnsLookupSpec, DnsLookupObserved> = { parse, observe, judge };
