/**
 * kind: http — real HTTP requests from a pod, a node or outside the cluster, as `kpath curl` makes
 * them (the name resolved through the cluster's kube-dns with the pod's search path, the socket bound
 * to the source's twin), judged on what came back: the status, the body, which pod answered and on
 * which node, the client address that pod saw, and how N requests spread over the pods.
 *
 *   - name: client reaches api
 *     kind: http
 *     from: pod/default/client
 *     url: http://api/
 *     count: 6              # requests (default 1)
 *     everySeconds: 5       # the cluster's clock moves this far between requests (no waiting)
 *     timeoutMs: 3000       # per request (default)
 *     expect:
 *       outcome: ok         # ok | refused | timeout | unresolved (default ok)
 *       status: 200         # default 200 when the outcome is ok
 *       bodyContains: text
 *       servedBy: [web-*]   # pods allowed to answer (NAME, NS/NAME, or a prefix ending in *)
 *       node: node-a        # the node of the pod that answered
 *       sourceIp: client    # the client address the pod saw: client (the sender's own) or an IP
 *       spread: 2           # at least this many different pods answered
 *       sticky: true        # one pod answered every request
 */
import { parseIP, prefixNth, tryParseIP } from '../../netmodel/addr.js';
import type { ClusterSnapshot } from '../../netmodel/cluster/index.js';
import { httpRequest, parseEcho, RequestFailure } from '../../proxy/client/index.js';
import { checkFrom, resolveFrom, sourceIn } from './source.js';
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

export const OUTCOMES = ['ok', 'refused', 'timeout', 'unresolved'] as const;
export type Outcome = (typeof OUTCOMES)[number] | 'error';

export interface HttpSpec {
  readonly from: string;
  readonly url: string;
  readonly count: number;
  readonly everySeconds: number;
  readonly timeoutMs: number;
  readonly expect: {
    readonly outcome: (typeof OUTCOMES)[number];
    readonly status?: number;
    readonly bodyContains?: string;
    readonly servedBy?: readonly string[];
    readonly node?: string;
    readonly sourceIp?: string;
    readonly spread?: number;
    readonly sticky?: boolean;
  };
}

export interface HttpAnswer {
  readonly outcome: Outcome;
  /** Why it failed (curl's words), when it did. */
  readonly message?: string;
  readonly status?: number;
  readonly body?: string;
  /** The echo server's identity of the pod that answered. */
  readonly pod?: string;
  readonly node?: string;
  /** The client address (model, without port) the pod saw, and whose it is (`node-a's address`). */
  readonly seen?: string;
  readonly seenAs?: string;
}

export interface HttpObserved {
  /** The sender's own model address, when it has one. */
  readonly client?: string;
  readonly answers: readonly HttpAnswer[];
}

export function parseHttp(raw: Readonly<Record<string, unknown>>, where: string): HttpSpec {
  onlyKeys(raw, ['name', 'kind', 'from', 'url', 'count', 'everySeconds', 'timeoutMs', 'expect'], where);
  const url = reqString(raw, 'url', where);
  if (!/^http:\/\/[^/]+/.test(url)) throw fieldError(where, 'url', `"${url}" is not an http:// URL`);
  const e = optObject(raw, 'expect', where);
  const w = `${where}: expect`;
  onlyKeys(e, ['outcome', 'status', 'bodyContains', 'servedBy', 'node', 'sourceIp', 'spread', 'sticky'], w);
  const outcome = optString(e, 'outcome', w) ?? 'ok';
  if (!(OUTCOMES as readonly string[]).includes(outcome))
    throw fieldError(w, 'outcome', `"${outcome}" is not one of ${OUTCOMES.join(', ')}`);
  const servedBy = e.servedBy;
  if (
    servedBy !== undefined &&
    typeof servedBy !== 'string' &&
    !(Array.isArray(servedBy) && servedBy.length && servedBy.every((s) => typeof s === 'string'))
  )
    throw fieldError(w, 'servedBy', 'a pod name or a list of them (NAME, NS/NAME or PREFIX*)');
  if (e.sticky !== undefined && typeof e.sticky !== 'boolean') throw fieldError(w, 'sticky', 'true or false');
  const sourceIp = optString(e, 'sourceIp', w);
  if (sourceIp !== undefined && sourceIp !== 'client' && !tryParseIP(sourceIp))
    throw fieldError(w, 'sourceIp', `"${sourceIp}": expected client or an IP address`);
  const status = optNumber(e, 'status', w, 100, 599);
  const bodyContains = optString(e, 'bodyContains', w);
  const node = optString(e, 'node', w);
  const spread = optNumber(e, 'spread', w, 1, 100);
  return {
    from: checkFrom(raw.from, where),
    url,
    count: optNumber(raw, 'count', where, 1, 100) ?? 1,
    everySeconds: optNumber(raw, 'everySeconds', where, 0, 86_400) ?? 0,
    timeoutMs: optNumber(raw, 'timeoutMs', where, 100, 10_000) ?? 3000,
    expect: {
      outcome: outcome as HttpSpec['expect']['outcome'],
      ...(status !== undefined ? { status } : outcome === 'ok' ? { status: 200 } : {}),
      ...(bodyContains !== undefined ? { bodyContains } : {}),
      ...(servedBy !== undefined ? { servedBy: [servedBy].flat() as string[] } : {}),
      ...(node !== undefined ? { node } : {}),
      ...(sourceIp !== undefined ? { sourceIp } : {}),
      ...(spread !== undefined ? { spread } : {}),
      ...(e.sticky !== undefined ? { sticky: e.sticky as boolean } : {}),
    },
  };
}

/** What a failed request ended as, in the model's addresses (`twin:port` -> `model:port`). */
export function failureOutcome(
  e: unknown,
  twin: string,
  model: string,
  realPort: number,
  port: number,
): HttpAnswer {
  if (e instanceof RequestFailure) {
    const outcome: Outcome =
      e.curlExit === 28 ? 'timeout' : e.curlExit === 7 || e.curlExit === 56 ? 'refused' : 'error';
    const message = e.message
      .replaceAll(`${twin}:${realPort}`, `${model}:${port}`)
      .replaceAll(`${twin} port ${realPort}`, `${model} port ${port}`)
      .replaceAll(twin, model);
    return { outcome, message };
  }
  return { outcome: 'error', message: e instanceof Error ? e.message : String(e) };
}

export async function observeHttp(env: CheckEnv, spec: HttpSpec): Promise<HttpObserved> {
  const s = sourceIn(spec.from, env.snap, env.twins);
  if ('error' in s) return { answers: [{ outcome: 'error', message: s.error }] };
  const { src } = s;
  const url = new URL(spec.url);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port ? Number(url.port) : 80;
  const answers: HttpAnswer[] = [];
  for (let i = 0; i < spec.count; i++) {
    if (i > 0 && spec.everySeconds) env.advance(spec.everySeconds * 1000);
    let target = host;
    if (!tryParseIP(host)) {
      try {
        const r = await resolveFrom(host, src, env.snap, env.twins);
        if (!r.address) {
          answers.push({
            outcome: 'unresolved',
            message: `Could not resolve host: ${host} (${r.steps.map((x) => `${x.name} ${x.rcode}`).join(', ')})`,
          });
          continue;
        }
        target = r.address;
      } catch (e) {
        answers.push({
          outcome: 'unresolved',
          message: `Could not resolve host: ${host} (${e instanceof Error ? e.message : String(e)})`,
        });
        continue;
      }
    }
    const twin = env.twins.toLoopback(parseIP(target));
    if (!twin) {
      answers.push({
        outcome: 'error',
        message: `${target} has no loopback twin: nothing real answers there`,
      });
      continue;
    }
    try {
      const res = await httpRequest({
        host: twin.text,
        port: env.realPort(port),
        bind: src.bind,
        method: 'GET',
        path: `${url.pathname}${url.search}`,
        hostHeader: url.host,
        headers: [],
        timeoutMs: spec.timeoutMs,
      });
      const body = res.body.toString('utf8');
      const echo = parseEcho(body);
      answers.push({
        outcome: 'ok',
        status: res.status,
        body: body.slice(0, 2000),
        ...(echo
          ? {
              pod: `${echo.namespace}/${echo.pod}`,
              node: echo.node,
              seen: echo.client.replace(/^\[?([^\]]*?)\]?:\d+$/, '$1'),
              seenAs: whose(env.snap, echo.client.replace(/^\[?([^\]]*?)\]?:\d+$/, '$1')),
            }
          : {}),
      });
    } catch (e) {
      answers.push(failureOutcome(e, twin.text, target, env.realPort(port), port));
    }
  }
  return { ...(src.model ? { client: src.model.text } : {}), answers };
}

/** Whose address the pod saw, in the cluster's terms: a node's, a node's cni0 bridge's, a pod's. */
export function whose(snap: ClusterSnapshot, ip: string): string | undefined {
  const node = snap.nodes.find((n) => n.internalIPs.some((a) => a.text === ip));
  if (node) return `${node.meta.name}'s address`;
  const bridge = snap.nodes.find((n) =>
    n.podCIDRs.some((c) => c.ip.family === 4 && prefixNth(c, 1n).text === ip),
  );
  if (bridge) return `${bridge.meta.name}'s cni0 address`;
  const pod = snap.pods.find((p) => p.podIPs.some((a) => a.text === ip));
  if (pod) return `pod ${pod.meta.namespace}/${pod.meta.name}`;
  return undefined;
}

/** `default/web-0` matches `web-0`, `default/web-0`, `web-*` and `default/web-*`. */
export function podMatches(pod: string, pattern: string): boolean {
  const name = pod.slice(pod.indexOf('/') + 1);
  const subject = pattern.includes('/') ? pod : name;
  return pattern.endsWith('*') ? subject.startsWith(pattern.slice(0, -1)) : subject === pattern;
}

const OUTCOME_WORDS: Record<Outcome, string> = {
  ok: 'an HTTP answer',
  refused: 'connection refused (or reset before any answer)',
  timeout: 'no answer before the timeout',
  unresolved: 'the name did not resolve',
  error: 'an error',
};

function counted<T>(items: readonly T[]): Map<T, number> {
  const m = new Map<T, number>();
  for (const x of items) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

function listCounts(m: Map<string, number>): string {
  return [...m].map(([k, n]) => (n > 1 ? `${k} x${n}` : k)).join(', ');
}

export function judgeHttp(spec: HttpSpec, o: HttpObserved): Verdict {
  const e = spec.expect;
  const n = o.answers.length;
  const of = (k: number) => (n === 1 ? '' : `${k} of ${n} requests: `);
  const wrong = o.answers.filter((a) => a.outcome !== e.outcome);
  if (wrong.length) {
    const first = wrong[0]!;
    const saw =
      first.outcome === 'ok' ? `HTTP ${first.status}${first.pod ? ` from ${first.pod}` : ''}` : first.message;
    return {
      passed: false,
      detail: `${of(wrong.length)}${OUTCOME_WORDS[first.outcome]} (${saw}); expected ${OUTCOME_WORDS[e.outcome]}`,
    };
  }
  if (e.outcome !== 'ok') return { passed: true, detail: `${of(n)}${OUTCOME_WORDS[e.outcome]}, as expected` };
  const problems: string[] = [];
  const badStatus = o.answers.filter((a) => e.status !== undefined && a.status !== e.status);
  if (badStatus.length)
    problems.push(`${of(badStatus.length)}HTTP ${badStatus[0]!.status}, expected HTTP ${e.status}`);
  if (e.bodyContains !== undefined) {
    const bad = o.answers.filter((a) => !a.body?.includes(e.bodyContains!));
    if (bad.length) problems.push(`${of(bad.length)}the body does not contain "${e.bodyContains}"`);
  }
  const pods = o.answers.map((a) => a.pod ?? '(not the echo server)');
  if (e.servedBy) {
    const bad = pods.filter((p) => !e.servedBy!.some((pat) => podMatches(p, pat)));
    if (bad.length)
      problems.push(`answered by ${listCounts(counted(bad))}; expected only ${e.servedBy.join(', ')}`);
  }
  if (e.node) {
    const bad = o.answers.filter((a) => a.node !== e.node);
    if (bad.length)
      problems.push(
        `${of(bad.length)}answered by a pod on ${bad[0]!.node ?? 'an unknown node'}; expected a pod on ${e.node}`,
      );
  }
  if (e.sourceIp) {
    const want = e.sourceIp === 'client' ? o.client : e.sourceIp;
    const bad = o.answers.filter((a) => a.seen !== want);
    if (bad.length)
      problems.push(
        `${of(bad.length)}the pod saw the client as ${bad[0]!.seen ?? '(unknown)'}${bad[0]!.seenAs ? ` (${bad[0]!.seenAs})` : ''}; expected ${want ?? '(no address)'}${e.sourceIp === 'client' ? " (the client's own address)" : ''}`,
      );
  }
  const distinct = counted(pods);
  if (e.spread !== undefined && distinct.size < e.spread)
    problems.push(
      `${n} requests were answered by ${distinct.size} pod${distinct.size === 1 ? '' : 's'} (${listCounts(distinct)}); expected at least ${e.spread} different pods`,
    );
  if (e.sticky && distinct.size > 1)
    problems.push(
      `${n} requests${spec.everySeconds ? ` ${spec.everySeconds} s apart` : ''} were answered by ${distinct.size} different pods (${listCounts(distinct)}); expected the same pod every time`,
    );
  if (problems.length) return { passed: false, detail: problems.join('; ') };
  return {
    passed: true,
    detail: `${n === 1 ? '' : `${n} requests: `}HTTP ${o.answers[0]!.status} from ${listCounts(distinct)}${e.sourceIp ? `, which saw the client as ${o.answers[0]!.seen}` : ''}`,
  };
}

export const http: CheckKind<HttpSpec, HttpObserved> = {
  parse: parseHttp,
  observe: observeHttp,
  judge: judgeHttp,
};
