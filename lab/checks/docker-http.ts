/**
 * kind: docker-http — real HTTP requests to a Docker host's containers, as `kpath curl --from
 * container/NAME` makes them: from a container (the socket bound to its address's twin), from a
 * client beyond the host's eth0 (`external/IP`, `external` = 192.0.2.10) or from a process on the
 * host itself (`host`: 127.0.0.1). Judged as kind http judges (outcome, status, body, which
 * container answered, the client address it saw).
 *
 *   - name: the web container reaches api by name
 *     kind: docker-http
 *     from: container/web
 *     url: http://api:8000/
 *     count: 2              # requests (default 1)
 *     timeoutMs: 3000       # per request (default)
 *     expect:
 *       outcome: ok         # ok | refused | timeout | unresolved (default ok)
 *       status: 200
 *       servedBy: api       # containers allowed to answer (NAME or PREFIX*)
 *       sourceIp: client    # the client address the container saw: client or an IP
 *
 * A name resolves as the container's resolv.conf says: on a user-defined network it is asked, over
 * real UDP from the container's twin, to the embedded DNS the run serves (127.0.0.11:53 on a real
 * host); on the default bridge resolv.conf is the host's, whose servers know no container names;
 * outside the host nothing answers container names. 127.0.0.1 is the host's own localhost (the run
 * serves it on an address of its slot); other addresses go to their twins.
 */
import { parseIP, tryParseIP } from '../../netmodel/addr.js';
import type { ClusterSnapshot } from '../../netmodel/cluster/index.js';
import { RRType, rcodeName, rcodeOf } from '../../netmodel/dns/index.js';
import { planDockerHost } from '../../netmodel/docker/index.js';
import { type ClientSource, httpRequest, parseEcho, parseSource, queryA } from '../../proxy/client/index.js';
import {
  failureOutcome,
  type HttpAnswer,
  type HttpObserved,
  type HttpSpec,
  judgeHttp,
  parseHttp,
} from './http.js';
import { EXTERNAL_CLIENT } from './source.js';
import { type CheckEnv, type CheckKind, fieldError, type Verdict } from './types.js';

const FROM = /^(container\/[a-zA-Z0-9][a-zA-Z0-9_.-]*|external(\/[0-9.]+)?|host)$/;

/** ms the embedded DNS has to answer, asked twice (a resolver's retry). */
const DNS_TIMEOUT_MS = 2000;

export function parseDockerHttp(raw: Readonly<Record<string, unknown>>, where: string): HttpSpec {
  const from = raw.from;
  if (typeof from !== 'string' || !FROM.test(from))
    throw fieldError(where, 'from', 'required: container/NAME, external, external/IP or host');
  // kind http's fields and expectations; `from` is checked here (containers and the host).
  const spec = parseHttp({ ...raw, from: 'external' }, where);
  return { ...spec, from: from === 'external' ? `external/${EXTERNAL_CLIENT}` : from };
}

/** The container `name` of the snapshot's Docker hosts, with its network. */
function containerOf(snap: ClusterSnapshot, name: string) {
  for (const h of snap.dockerHosts) {
    const c = planDockerHost(h).plan.containers.find((x) => x.name === name);
    if (c) return c;
  }
  return undefined;
}

async function askEmbeddedDns(
  name: string,
  src: ClientSource,
  server: { host: string; port: number },
): Promise<{ ip?: string; rcode: string }> {
  let last: unknown;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const reply = await queryA(name, server, src.bind, DNS_TIMEOUT_MS, 0x4b51 + attempt);
      const a = reply.answers.find((x) => x.type === RRType.A && x.data.kind === 'address');
      return {
        rcode: rcodeName(rcodeOf(reply)),
        ...(a && a.data.kind === 'address' ? { ip: a.data.ip } : {}),
      };
    } catch (e) {
      last = e;
    }
  }
  throw last;
}

/** A name as the source resolves it: a model address, or what went wrong in curl's words. */
async function resolveName(
  env: CheckEnv,
  src: ClientSource,
  host: string,
): Promise<{ address: string } | { message: string }> {
  const unresolved = (why: string) => ({ message: `Could not resolve host: ${host} (${why})` });
  if (src.kind !== 'container') return unresolved('outside the containers nothing answers their names');
  const me = containerOf(env.snap, src.label.slice('container/'.length));
  if (!me || me.network.isDefault)
    return unresolved(`asked the host's resolvers, as ${me?.name ?? 'the container'}'s resolv.conf says`);
  const dns = env.docker?.dns;
  if (!dns) return unresolved('no embedded DNS answered');
  try {
    const r = await askEmbeddedDns(host, src, dns);
    if (!r.ip) return unresolved(`${r.rcode} from the embedded DNS 127.0.0.11`);
    const ip = parseIP(r.ip);
    return { address: env.twins.toModel(ip)?.text ?? ip.text };
  } catch (e) {
    return unresolved(e instanceof Error ? e.message : String(e));
  }
}

/** Whose address a container saw: another container's, a bridge gateway's, the host's. */
function whoseDocker(snap: ClusterSnapshot, ip: string): string | undefined {
  for (const h of snap.dockerHosts) {
    const plan = planDockerHost(h).plan;
    if (plan.host.address.ip.text === ip) return `the host ${h.name}'s address`;
    const c = plan.containers.find((x) => x.ip.text === ip);
    if (c) return `container ${c.name}`;
    const n = plan.networks.find((x) => x.gateway.text === ip);
    if (n) return `the ${n.name} network's gateway on ${h.name}`;
  }
  return undefined;
}

export async function observeDockerHttp(env: CheckEnv, spec: HttpSpec): Promise<HttpObserved> {
  let src: ClientSource;
  try {
    src = parseSource(spec.from, env.snap, env.twins);
  } catch (e) {
    return { answers: [{ outcome: 'error', message: e instanceof Error ? e.message : String(e) }] };
  }
  const url = new URL(spec.url);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port ? Number(url.port) : 80;
  const answers: HttpAnswer[] = [];
  for (let i = 0; i < spec.count; i++) {
    let target = host;
    if (!tryParseIP(host)) {
      const r = await resolveName(env, src, host);
      if ('message' in r) {
        answers.push({ outcome: 'unresolved', message: r.message });
        continue;
      }
      target = r.address;
    }
    // A process on the host dials its own 127.0.0.1; a container's 127.0.0.1 is its own.
    const real =
      target === '127.0.0.1' && src.kind !== 'container'
        ? (env.docker?.localhost ?? '127.0.0.1')
        : env.twins.toLoopback(parseIP(target))?.text;
    if (!real) {
      answers.push({
        outcome: 'error',
        message: `${target} has no loopback twin: nothing real answers there`,
      });
      continue;
    }
    try {
      const res = await httpRequest({
        host: real,
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
      const seen = echo?.client.replace(/^\[?([^\]]*?)\]?:\d+$/, '$1');
      const seenAs = seen ? whoseDocker(env.snap, seen) : undefined;
      answers.push({
        outcome: 'ok',
        status: res.status,
        body: body.slice(0, 2000),
        ...(echo
          ? {
              pod: echo.namespace ? `${echo.namespace}/${echo.pod}` : echo.pod,
              node: echo.node,
              ...(seen ? { seen } : {}),
              ...(seenAs ? { seenAs } : {}),
            }
          : {}),
      });
    } catch (e) {
      answers.push(failureOutcome(e, real, target, env.realPort(port), port));
    }
  }
  return { ...(src.model ? { client: src.model.text } : {}), answers };
}

/** kind http's judgement, in a container's words. */
export function judgeDockerHttp(spec: HttpSpec, o: HttpObserved): Verdict {
  const v = judgeHttp(spec, o);
  return { ...v, detail: v.detail.replace('the pod saw the client', 'the container saw the client') };
}

export const dockerHttp: CheckKind<HttpSpec, HttpObserved> = {
  parse: parseDockerHttp,
  observe: observeDockerHttp,
  judge: judgeDockerHttp,
};
