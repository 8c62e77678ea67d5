/**
 * kind: tcp — one real TCP connection from a pod, a node or outside, to HOST:PORT (HOST a name
 * resolved through kube-dns as the pod would, or an IP), that sends a few bytes and waits for the
 * first byte back:
 *
 *   - name: db port answers
 *     kind: tcp
 *     from: pod/default/client
 *     to: db:5432
 *     timeoutMs: 3000       # default
 *     expect: ok          # ok (bytes came back) | refused | timeout | unresolved
 *
 * The proxy accepts a connection before the emulated kernel decides, so a REJECT reaches the client
 * as a reset right after the handshake and a DROP as a connection that never answers: `refused`
 * means refused or reset before any byte came back, `timeout` that nothing came back in time.
 */
import { connect } from 'node:net';
import { isLoopback, parseIP, tryParseIP } from '../../netmodel/addr.js';
import { checkFrom, resolveFrom, sourceIn } from './source.js';
import {
  type CheckEnv,
  type CheckKind,
  fieldError,
  onlyKeys,
  optNumber,
  reqString,
  type Verdict,
} from './types.js';

export const TCP_OUTCOMES = ['ok', 'refused', 'timeout', 'unresolved'] as const;
type TcpOutcome = (typeof TCP_OUTCOMES)[number] | 'error';

export interface TcpSpec {
  readonly from: string;
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  readonly expect: (typeof TCP_OUTCOMES)[number];
}

export interface TcpObserved {
  readonly outcome: TcpOutcome;
  readonly message: string;
}

/** What the check sends: an echo backend answers it byte for byte. */
const PROBE = 'kpath-lab\n';

export function parseTcp(raw: Readonly<Record<string, unknown>>, where: string): TcpSpec {
  onlyKeys(raw, ['name', 'kind', 'from', 'to', 'timeoutMs', 'expect'], where);
  const to = reqString(raw, 'to', where);
  const m = /^([^:]+|\[[^\]]+\]):(\d+)$/.exec(to);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535)
    throw fieldError(where, 'to', `"${to}": expected HOST:PORT (a name or an IP, and a port 1-65535)`);
  const expect = reqString(raw, 'expect', where);
  if (!(TCP_OUTCOMES as readonly string[]).includes(expect))
    throw fieldError(where, 'expect', `"${expect}" is not one of ${TCP_OUTCOMES.join(', ')}`);
  return {
    from: checkFrom(raw.from, where),
    host: m[1]!.replace(/^\[|\]$/g, ''),
    port: Number(m[2]),
    timeoutMs: optNumber(raw, 'timeoutMs', where, 100, 10_000) ?? 3000,
    expect: expect as TcpSpec['expect'],
  };
}

function exchange(host: string, port: number, bind: string, timeoutMs: number): Promise<TcpObserved> {
  const ip = tryParseIP(host);
  if (!ip || !isLoopback(ip))
    return Promise.resolve({ outcome: 'error', message: `${host} is not loopback` });
  return new Promise((resolve) => {
    const s = connect({ host, port, localAddress: bind });
    let connected = false;
    const done = (o: TcpObserved) => {
      clearTimeout(timer);
      s.destroy();
      resolve(o);
    };
    const timer = setTimeout(
      () =>
        done({
          outcome: 'timeout',
          message: connected
            ? `connected, but nothing came back in ${timeoutMs} ms`
            : `no connection in ${timeoutMs} ms`,
        }),
      timeoutMs,
    );
    s.on('connect', () => {
      connected = true;
      s.write(PROBE);
    });
    s.once('data', (d: Buffer) => done({ outcome: 'ok', message: `connected, ${d.length} bytes came back` }));
    s.on('end', () => done({ outcome: 'refused', message: 'connected, then closed without a byte back' }));
    s.on('error', (e: NodeJS.ErrnoException) =>
      done({
        outcome:
          e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET' || e.code === 'EPIPE' ? 'refused' : 'error',
        message:
          e.code === 'ECONNREFUSED'
            ? 'connection refused'
            : e.code === 'ECONNRESET' || e.code === 'EPIPE'
              ? 'connection reset by peer'
              : `${e.code ?? ''} ${e.message}`.trim(),
      }),
    );
  });
}

export async function observeTcp(env: CheckEnv, spec: TcpSpec): Promise<TcpObserved> {
  const s = sourceIn(spec.from, env.snap, env.twins);
  if ('error' in s) return { outcome: 'error', message: s.error };
  let target = spec.host;
  if (!tryParseIP(target)) {
    try {
      const r = await resolveFrom(target, s.src, env.snap, env.twins);
      if (!r.address) return { outcome: 'unresolved', message: `${spec.host} did not resolve` };
      target = r.address;
    } catch (e) {
      return {
        outcome: 'unresolved',
        message: `${spec.host}: ${e instanceof Error ? e.message : String(e)}`,
      };
    }
  }
  const twin = env.twins.toLoopback(parseIP(target));
  if (!twin)
    return { outcome: 'error', message: `${target} has no loopback twin: nothing real answers there` };
  return exchange(twin.text, env.realPort(spec.port), s.src.bind, spec.timeoutMs);
}

const WORDS: Record<TcpOutcome, string> = {
  ok: 'an answer',
  refused: 'refused',
  timeout: 'no answer',
  unresolved: 'the name did not resolve',
  error: 'an error',
};

export function judgeTcp(spec: TcpSpec, o: TcpObserved): Verdict {
  const what = `TCP ${spec.host}:${spec.port} from ${spec.from}`;
  if (o.outcome === spec.expect) return { passed: true, detail: `${what}: ${o.message}` };
  return {
    passed: false,
    detail: `${what}: ${WORDS[o.outcome]} (${o.message}); expected ${WORDS[spec.expect]}`,
  };
}

export const tcp: CheckKind<TcpSpec, TcpObserved> = { parse: parseTcp, observe: observeTcp, judge: judgeTcp };
