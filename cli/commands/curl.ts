/**
 * `kpath curl --from pod/NS/NAME|node/NAME|external URL`: a request to a running `kpath up`, made as
 * that pod or node. The socket binds the source's loopback twin, a name is resolved through the
 * cluster's real kube-dns with the pod's search path, the connection goes to the destination's twin,
 * and the response is printed with where it went: service, endpoint pod and node, and the client
 * address the pod saw. Exit statuses are curl's: 6 could not resolve, 7 could not connect, 28 timeout.
 */
import { writeFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import type { Argv } from 'yargs';
import { parseIP, tryParseIP } from '../../netmodel/addr.js';
import type { ClusterSnapshot } from '../../netmodel/cluster/index.js';
import { ErrorCodes, KpathError } from '../../netmodel/errors.js';
import { TwinMap } from '../../netmodel/twins.js';
import { dockerLoopbackMap } from '../../proxy/runtime/docker/index.js';
import {
  type ClientSource,
  describeDestination,
  describeSeen,
  httpRequest,
  parseEcho,
  parseSource,
  RequestFailure,
  resolveFromContainer,
  resolveHost,
} from '../client/index.js';
import { type CliIO, EXIT } from '../io.js';
import { loadOrReport, withFiles } from './common.js';

export const command = 'curl <url>';
export const describe = 'an HTTP request to a running kpath up, made as a pod or node; says where it went';

export function builder(y: Argv) {
  return withFiles(y)
    .positional('url', {
      type: 'string',
      description: 'http://NAME[:PORT]/PATH; NAME: a service name, FQDN or IP',
    })
    .option('from', {
      type: 'string',
      default: 'external',
      description:
        "who sends it: pod/NAMESPACE/NAME, node/NAME, container/NAME (a Docker host's container; names through its embedded DNS) or external (a process outside the pods)",
    })
    .option('verbose', {
      alias: 'v',
      type: 'boolean',
      default: false,
      description: 'DNS steps and headers too',
    })
    .option('silent', { alias: 's', type: 'boolean', default: false, description: 'only the response body' })
    .option('include', {
      alias: 'i',
      type: 'boolean',
      default: false,
      description: 'print the response headers',
    })
    .option('request', { alias: 'X', type: 'string', description: 'method (default GET, or POST with -d)' })
    .option('header', { alias: 'H', type: 'string', description: "'Name: value' (repeatable)" })
    .option('data', { alias: 'd', type: 'string', description: 'request body (POST)' })
    .option('max-time', { type: 'number', default: 5, description: 'seconds before giving up' })
    .option('output', { alias: 'o', type: 'string', description: 'write the body to this file' })
    .example('$0 curl --from pod/default/client http://web/', 'a ClusterIP service, by its short name')
    .example('$0 curl --from node/worker-1 http://10.0.0.12:30080/', 'a NodePort, from a node')
    .example('$0 curl --from pod/default/client -v http://cart.shop:9000/', 'DNS steps and headers');
}

interface CurlArgs {
  url: string;
  f?: string[];
  from: string;
  verbose: boolean;
  silent: boolean;
  include: boolean;
  request?: string;
  header?: string | string[];
  data?: string;
  maxTime: number;
  output?: string;
}

function usage(msg: string): KpathError {
  return new KpathError(ErrorCodes.USAGE, msg);
}

export async function run(args: CurlArgs, io: CliIO): Promise<number> {
  const snap = loadOrReport(args.f, io);
  if (typeof snap === 'number') return snap;
  return curl(snap, args, io);
}

/** The request itself, on a snapshot (kpath demo calls this with its own cluster). */
export async function curl(snap: ClusterSnapshot, args: Omit<CurlArgs, 'f'>, io: CliIO): Promise<number> {
  const twins = new TwinMap([...snap.config.loopbackMap, ...dockerLoopbackMap(snap)]);
  let url: URL;
  try {
    url = new URL(/^[a-z]+:\/\//i.test(args.url) ? args.url : `http://${args.url}`);
  } catch {
    throw usage(`${args.url}: not a URL (e.g. http://web.default/)`);
  }
  if (url.protocol !== 'http:')
    throw usage(`${url.protocol} URLs are not supported: kpath curl speaks http only`);
  if (!(args.maxTime > 0)) throw usage('--max-time must be a positive number of seconds');
  const src = parseSource(args.from, snap, twins);
  const note = (t: string) => {
    if (!args.silent) io.err(`* ${t}\n`);
  };
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port ? Number(url.port) : 80;
  note(describeSource(src));

  let target: string;
  if (tryParseIP(host)) target = host;
  else {
    let r: Awaited<ReturnType<typeof resolveHost>>;
    try {
      r =
        src.kind === 'container'
          ? await resolveFromContainer(host, src, twins, Math.min(2000, args.maxTime * 1000))
          : await resolveHost(host, src, snap, twins, Math.min(2000, args.maxTime * 1000));
    } catch (e) {
      io.err(
        `kpath curl: (6) Could not resolve host: ${host} (${e instanceof Error ? e.message : String(e)})\n`,
      );
      return 6;
    }
    if (args.verbose) {
      note(
        src.kind === 'container'
          ? `nameserver ${r.server} (the container's resolv.conf: Docker's embedded DNS, ndots:0)`
          : `search ${r.search.join(' ')} (the pod's resolv.conf), asking kube-dns ${r.server} at ${r.serverLoopback}`,
      );
      for (const s of r.steps)
        note(`  ${s.name} A -> ${s.rcode}${s.answers.length ? ` ${s.answers.join(',')}` : ''}`);
    }
    if (!r.address) {
      io.err(`kpath curl: (6) Could not resolve host: ${host}\n`);
      return 6;
    }
    note(
      `resolved ${host} -> ${r.resolvedName} ${r.address} (${r.fromModel ? 'from the cluster model: it has no kube-dns service' : src.kind === 'container' ? `the embedded DNS ${r.server}` : `kube-dns ${r.server}`})`,
    );
    target = r.address;
  }
  const ip = parseIP(target);
  const loopback = ip.family === 4 && ip.n >>> 24 === 127 ? ip : twins.toLoopback(ip);
  if (!loopback)
    throw usage(`${target} has no loopback twin, so nothing real listens for it (add a loopbackMap entry)`);
  const model = ip.family === 4 && ip.n >>> 24 === 127 ? (twins.toModel(ip)?.text ?? '127.0.0.1') : ip.text;
  note(`to ${describeDestination(snap, model, port).text}`);

  const headers: [string, string][] = [args.header ?? []].flat().map((h) => {
    const i = h.indexOf(':');
    if (i <= 0) throw usage(`-H ${h}: expected 'Name: value'`);
    return [h.slice(0, i).trim(), h.slice(i + 1).trim()];
  });
  const method = args.request ?? (args.data !== undefined ? 'POST' : 'GET');
  const path = `${url.pathname}${url.search}`;
  if (args.verbose) {
    note(`> ${method} ${path} HTTP/1.1`);
    note(`> Host: ${url.host}`);
    for (const [k, v] of headers) note(`> ${k}: ${v}`);
  }
  let res: Awaited<ReturnType<typeof httpRequest>>;
  try {
    res = await httpRequest({
      host: loopback.text,
      port,
      bind: src.bind,
      method,
      path,
      hostHeader: url.host,
      headers,
      ...(args.data !== undefined ? { body: args.data } : {}),
      timeoutMs: args.maxTime * 1000,
    });
  } catch (e) {
    if (e instanceof RequestFailure) {
      const hint = e.curlExit === 7 ? ' (is kpath up running with this cluster? start it: kpath up)' : '';
      io.err(`kpath curl: (${e.curlExit}) ${e.message}${hint}\n`);
      return e.curlExit;
    }
    throw e;
  }
  note(`connected ${res.local} -> ${loopback.text}:${port} (loopback twins)`);
  if (args.verbose) {
    note(`< HTTP/${res.httpVersion} ${res.status} ${res.statusText}`);
    for (const [k, v] of res.headers) note(`< ${k}: ${v}`);
  }
  const body = res.body.toString('utf8');
  const echo = parseEcho(body);
  if (echo) {
    note(
      echo.namespace === '' && snap.dockerHosts.some((h) => h.name === echo.node)
        ? `endpoint: container ${echo.pod} (${echo.podIP}:${echo.port}) on Docker host ${echo.node}`
        : `endpoint: pod ${echo.namespace}/${echo.pod} (${echo.podIP}:${echo.port}) on node ${echo.node}`,
    );
    note(
      `the pod saw the client as ${describeSeen(echo.client, { ...(src.model ? { model: src.model.text } : {}) }, snap)}`,
    );
  }
  let head = '';
  if (args.include)
    head = `HTTP/${res.httpVersion} ${res.status} ${res.statusText}\r\n${res.headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  if (args.output) writeFileSync(resolvePath(io.cwd, args.output), res.body);
  else io.out(head + body + (body.endsWith('\n') || body === '' ? '' : '\n'));
  return EXIT.OK;
}

function describeSource(src: ClientSource): string {
  switch (src.kind) {
    case 'pod':
      return `from ${src.label} (${src.model!.text}, bound to its twin ${src.bind}) on node ${src.node ?? '?'}`;
    case 'node':
      return `from ${src.label} (${src.model!.text}, bound to its twin ${src.bind})`;
    case 'container':
      return `from ${src.label} (${src.model!.text}, bound to its twin ${src.bind}) on Docker host ${src.node ?? '?'}`;
    default:
      return `from outside the pods (${src.bind}: the proxy takes it for a process on the node it dials)`;
  }
}
