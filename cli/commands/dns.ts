/**
 * `kpath dns serve|query|resolve`: the cluster's DNS as CoreDNS answers it.
 *   serve    a real UDP+TCP server for the cluster (reloads when the manifests change)
 *   query    one question answered offline from the model, printed in dig's layout
 *   resolve  what a pod's resolver does with a name: resolv.conf, then every query in order
 */
import { watch } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import type { Argv } from 'yargs';
import { joinHostPort, parseIP } from '../../netmodel/addr.js';
import type { ClusterSnapshot, Pod } from '../../netmodel/cluster/index.js';
import { formatDiagnostic } from '../../netmodel/cluster/index.js';
import {
  buildZone,
  createAnswerer,
  dnsViewOf,
  formatDig,
  kubeDnsAddresses,
  parseTypeName,
  podResolvConfOf,
  rdataText,
  resolveFromPod,
  typeName,
  type ZoneOptions,
  zoneOptionsOf,
} from '../../netmodel/dns/index.js';
import { kubeDnsPolicy, PolicyEngine } from '../../netmodel/policy/index.js';
import { TwinMap } from '../../netmodel/twins.js';
import { type DnsServer, startDnsServer } from '../../proxy/dns/index.js';
import { exampleClusterPath, loadCluster } from '../../proxy/manifest-files.js';
import { type CliIO, EXIT } from '../io.js';
import { rootLogger } from '../logger.js';
import { loadOrReport, withFiles } from './common.js';
import { loopbackHostPort } from './loopback.js';

export const command = 'dns <action> [name] [type]';
export const describe =
  'cluster DNS: serve (a real server), query NAME [TYPE] (offline, dig layout), resolve NAME --from pod/NS/NAME';

export function builder(y: Argv) {
  return withFiles(y)
    .positional('action', { choices: ['serve', 'query', 'resolve'] as const, description: 'what to do' })
    .positional('name', { type: 'string', description: 'the name to query or resolve' })
    .positional('type', { type: 'string', description: 'record type for query (default A)' })
    .option('listen', {
      type: 'string',
      array: true,
      description: 'serve: ADDR:PORT to listen on (loopback), repeatable',
      default: ['127.0.0.1:5353'],
    })
    .option('upstream', {
      type: 'string',
      description: 'serve: forward names outside the cluster to this loopback ADDR:PORT (default: REFUSED)',
    })
    .option('twins', {
      type: 'boolean',
      default: false,
      description: 'answer with loopback twins (127.a.b.c) so curl to a resolved name works',
    })
    .option('from', {
      type: 'string',
      description: 'resolve: the pod whose resolver to follow, pod/NAMESPACE/NAME',
    });
}

interface DnsArgs {
  action: 'serve' | 'query' | 'resolve';
  name?: string;
  type?: string;
  f?: string[];
  listen?: string[];
  upstream?: string;
  twins?: boolean;
  from?: string;
}

function zoneOpts(snap: ClusterSnapshot, twins: boolean): ZoneOptions {
  if (!twins) return zoneOptionsOf(snap);
  const map = new TwinMap(snap.config.loopbackMap);
  return zoneOptionsOf(snap, { mapAddress: (t) => map.toLoopback(parseIP(t))?.text ?? t });
}

export async function run(args: DnsArgs, io: CliIO): Promise<number> {
  if (args.action === 'serve') return serve(args, io);
  if (!args.name) {
    io.err(
      `error: dns ${args.action} needs a NAME, e.g. kpath dns ${args.action} web.default.svc.cluster.local\n`,
    );
    return EXIT.INVALID;
  }
  const snap = loadOrReport(args.f, io);
  if (typeof snap === 'number') return snap;
  const answerer = createAnswerer(buildZone(dnsViewOf(snap), zoneOpts(snap, args.twins ?? false)));
  if (args.action === 'query') {
    const type = parseTypeName((args.type ?? 'A').toUpperCase());
    if (type === undefined) {
      io.err(`error: unknown record type "${args.type}" (A, AAAA, SRV, PTR, CNAME, TXT, SOA, NS, ANY)\n`);
      return EXIT.INVALID;
    }
    const reply = answerer.query(args.name, type);
    io.out(formatDig(reply, { command: `${args.name} ${typeName(type)}` }));
    return EXIT.OK;
  }
  // resolve
  const m = /^pod\/([^/]+)\/([^/]+)$/.exec(args.from ?? '');
  if (!m) {
    io.err('error: dns resolve needs --from pod/NAMESPACE/NAME (the pod whose resolv.conf to use)\n');
    return EXIT.INVALID;
  }
  const pod = snap.pod(m[1]!, m[2]!);
  if (!pod) {
    io.err(`error: pod ${m[1]}/${m[2]} does not exist (see: kpath get pods -A)\n`);
    return EXIT.FAILURE;
  }
  if (kubeDnsAddresses(snap).length === 0)
    io.err('warning: no kube-system/kube-dns service; the pod would have no cluster nameserver\n');
  const conf = podResolvConfOf(snap, pod);
  const result = resolveFromPod(answerer, args.name, conf);
  io.out(`# /etc/resolv.conf in pod ${pod.meta.namespace}/${pod.meta.name}\n${conf.text}\n`);
  const blocked = dnsPolicyLines(snap, pod);
  if (blocked) {
    io.out(blocked);
    return EXIT.FAILURE;
  }
  const dots = args.name.replace(/\.$/, '').split('.').length - 1;
  const order = args.name.endsWith('.')
    ? 'it ends with a dot, so it is absolute: no search list'
    : dots < conf.ndots
      ? `it has ${dots} dot${dots === 1 ? '' : 's'}, fewer than ndots:${conf.ndots}, so the search list is tried first`
      : `it has ${dots} dots, at least ndots:${conf.ndots}, so it is tried as given first`;
  io.out(`# queries for "${args.name}": ${order}\n`);
  result.queries.forEach((q, i) => {
    const answers = q.reply.answers.map((rr) => `${typeName(rr.type)} ${rdataText(rr.data)}`);
    const what = q.rcode === 'NOERROR' && q.answerCount === 0 ? 'NOERROR (no records: NODATA)' : q.rcode;
    io.out(
      `${String(i + 1).padStart(2)}  ${q.type.padEnd(4)} ${q.name.padEnd(50)} ${what}${answers.length ? `  ${answers.join(', ')}` : ''}\n`,
    );
  });
  io.out(
    result.resolved
      ? `\nresolved as ${result.resolved} after ${result.queries.length} queries\n`
      : `\nnot resolved after ${result.queries.length} queries\n`,
  );
  return result.resolved ? EXIT.OK : EXIT.FAILURE;
}

async function serve(args: DnsArgs, io: CliIO): Promise<number> {
  const log = rootLogger().child({ component: 'dns' });
  const listen = (args.listen ?? []).map((l) => loopbackHostPort('listen', l, 53));
  const upstream = args.upstream ? loopbackHostPort('upstream', args.upstream, 53) : undefined;
  const paths = args.f?.length ? args.f : [exampleClusterPath()];
  const snap = loadOrReport(paths, io);
  if (typeof snap === 'number') return snap;
  const server: DnsServer = await startDnsServer({
    listen,
    view: dnsViewOf(snap),
    zoneOptions: zoneOpts(snap, args.twins ?? false),
    logger: log,
    ...(upstream ? { upstream: joinHostPort(upstream.host, upstream.port) } : {}),
  });
  for (const a of server.addresses)
    io.err(`serving ${snap.config.domain} on ${a.protocol} ${a.host}:${a.port}\n`);
  let version = snap.version;
  let timer: NodeJS.Timeout | undefined;
  const reload = () => {
    const r = loadCluster(paths, io.cwd, version + 1);
    if (!r.ok) {
      log.error(
        { errors: r.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic) },
        'reload failed; still serving the previous cluster',
      );
      return;
    }
    version = r.snapshot.version;
    server.reload(
      createAnswerer(buildZone(dnsViewOf(r.snapshot), zoneOpts(r.snapshot, args.twins ?? false))),
    );
    log.info({ version }, 'reloaded');
  };
  const watchers = paths.map((p) =>
    watch(resolvePath(io.cwd, p), () => {
      clearTimeout(timer);
      timer = setTimeout(reload, 200);
    }),
  );
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  clearTimeout(timer);
  for (const w of watchers) w.close();
  await server.close();
  return EXIT.OK;
}

/** The NetworkPolicy trap: queries to kube-dns dropped. Text to print (and stop) when all are, else ''. */
function dnsPolicyLines(snap: ClusterSnapshot, pod: Pod): string {
  const check = kubeDnsPolicy(snap, new PolicyEngine(snap), pod);
  if (!check || check.anyAllowed) return '';
  const lines = [
    `# NetworkPolicy drops every query from ${pod.meta.namespace}/${pod.meta.name} to kube-dns:`,
  ];
  for (const e of check.endpoints) {
    const why = [e.decision.egress, e.decision.ingress].find((v) => v && !v.allowed);
    lines.push(`#   UDP to ${e.endpoint}: ${why?.reason ?? 'denied'}`);
  }
  lines.push(
    '',
    'not resolved: no query gets an answer; the resolver times out (EAI_AGAIN), it is not refused',
  );
  return `${lines.join('\n')}\n`;
}
