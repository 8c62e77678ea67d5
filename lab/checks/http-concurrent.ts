/**
 * `kind: http-concurrent`: N real connections from one pod to a URL, all held open at the same time,
 * then one HTTP request on each. What a burst of load does: each open connection keeps its conntrack
 * entry (and its place in the service's rotation) while the others open, so limits that sequential
 * requests never reach (a conntrack table's nf_conntrack_max) show here.
 *
 *   - name: 24 simultaneous connections are all answered
 *     kind: http-concurrent
 *     from: pod/default/loadgen
 *     url: http://web/
 *     connections: 24
 *     timeoutMs: 1500         # for each answer, counted once every connection has been opened
 *     expect: {answered: all} # all, or at least this many
 */
import { connect, type Socket } from 'node:net';
import { parseIP, tryParseIP } from '../../netmodel/addr.js';
import { resolveHost } from '../../proxy/client/index.js';
import { checkFrom, sourceIn } from './source.js';
import {
  type CheckEnv,
  type CheckKind,
  fieldError,
  onlyKeys,
  optNumber,
  optObject,
  reqString,
  type Verdict,
} from './types.js';

export interface HttpConcurrentSpec {
  readonly from: string;
  readonly url: string;
  readonly connections: number;
  readonly timeoutMs: number;
  /** How many must get an HTTP answer (all: `connections`). */
  readonly answered: number;
}

export interface HttpConcurrentObserved {
  /** Per connection: the status line, or `timeout`, `refused`, ... */
  readonly results: readonly string[];
  readonly error?: string;
}

function parse(raw: Readonly<Record<string, unknown>>, where: string): HttpConcurrentSpec {
  onlyKeys(raw, ['name', 'kind', 'from', 'url', 'connections', 'timeoutMs', 'expect'], where);
  const url = reqString(raw, 'url', where);
  if (!/^http:\/\/[^/]+/.test(url)) throw fieldError(where, 'url', `"${url}" is not an http:// URL`);
  const connections = optNumber(raw, 'connections', where, 1, 500) ?? 10;
  const e = optObject(raw, 'expect', where);
  onlyKeys(e, ['answered'], `${where}: expect`);
  const a = e.answered ?? 'all';
  if (a !== 'all' && (typeof a !== 'number' || !Number.isInteger(a) || a < 0 || a > connections))
    throw fieldError(where, 'expect.answered', `all, or a number from 0 to ${connections}`);
  return {
    from: checkFrom(raw.from, where),
    url,
    connections,
    timeoutMs: optNumber(raw, 'timeoutMs', where, 100, 10_000) ?? 1500,
    answered: a === 'all' ? connections : (a as number),
  };
}

/** Open one connection; `ask()` sends the request once every connection is open. */
function open(host: string, port: number, bind: string, hostHeader: string, path: string) {
  let sock: Socket | undefined;
  let settle: (r: string) => void = () => {};
  const result = new Promise<string>((resolve) => {
    settle = resolve;
  });
  const opened = new Promise<void>((resolve) => {
    sock = connect({ host, port, localAddress: bind });
    sock.once('connect', () => resolve());
    sock.once('data', (d) => settle(d.toString('latin1').split('\r\n')[0] ?? ''));
    sock.once('error', (e: NodeJS.ErrnoException) => {
      settle(e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET' ? 'refused' : (e.code ?? 'error'));
      resolve();
    });
    sock.once('close', () => {
      settle('closed without an answer');
      resolve();
    });
  });
  return {
    opened,
    ask(timeoutMs: number): Promise<string> {
      sock?.write(`GET ${path} HTTP/1.1\r\nHost: ${hostHeader}\r\nConnection: close\r\n\r\n`);
      const t = setTimeout(() => settle('timeout'), timeoutMs);
      return result.finally(() => clearTimeout(t));
    },
    close: () => sock?.destroy(),
  };
}

async function observe(env: CheckEnv, spec: HttpConcurrentSpec): Promise<HttpConcurrentObserved> {
  const s = sourceIn(spec.from, env.snap, env.twins);
  if ('error' in s) return { results: [], error: s.error };
  const url = new URL(spec.url);
  let target = url.hostname;
  if (!tryParseIP(target)) {
    const r = await resolveHost(target, s.src, env.snap, env.twins, 2000).catch(() => undefined);
    if (!r?.address) return { results: [], error: `Could not resolve host: ${url.hostname}` };
    target = r.address;
  }
  const twin = env.twins.toLoopback(parseIP(target));
  if (!twin) return { results: [], error: `${target} has no loopback twin: nothing real answers there` };
  const port = env.realPort(url.port ? Number(url.port) : 80);
  const conns = Array.from({ length: spec.connections }, () =>
    open(twin.text, port, s.src.bind, url.host, `${url.pathname}${url.search}`),
  );
  try {
    await Promise.all(conns.map((c) => c.opened));
    return { results: await Promise.all(conns.map((c) => c.ask(spec.timeoutMs))) };
  } finally {
    for (const c of conns) c.close();
  }
}

function judge(spec: HttpConcurrentSpec, o: HttpConcurrentObserved): Verdict {
  if (o.error) return { passed: false, detail: o.error };
  const ok = o.results.filter((r) => r.startsWith('HTTP/')).length;
  const other = new Map<string, number>();
  for (const r of o.results) if (!r.startsWith('HTTP/')) other.set(r, (other.get(r) ?? 0) + 1);
  const rest = [...other].map(
    ([r, n]) => `${n} ${r === 'timeout' ? `got no answer within ${spec.timeoutMs} ms` : r}`,
  );
  const what = `${spec.connections} connections to ${spec.url} held open at once: ${ok} answered${rest.length ? `, ${rest.join(', ')}` : ''}`;
  const want = spec.answered === spec.connections ? `all ${spec.connections}` : `at least ${spec.answered}`;
  return ok >= spec.answered
    ? { passed: true, detail: what }
    : { passed: false, detail: `${what}; expected ${want} answered` };
}

export const httpConcurrent: CheckKind<HttpConcurrentSpec, HttpConcurrentObserved> = {
  parse,
  observe,
  judge,
};
