/**
 * `kpath docker`: a Docker host (kind: DockerHost) as the docker CLI and the host's tools show it.
 *
 *   kpath docker ps -f host.yaml               docker ps (ID, image, networks, ports, names)
 *   kpath docker network ls -f host.yaml       docker network ls (and network inspect NAME)
 *   kpath docker rules -f host.yaml            iptables-save on the host, as dockerd wrote it
 *   kpath docker ip-route -f host.yaml [--container web]
 *                                              ip addr/link/route/neigh, bridge fdb of the host or a container
 *   kpath docker trace -f host.yaml --from container/web --to 192.0.2.10:8080
 *                                              one connection through the host, device by device,
 *                                              with docker-proxy where it takes the connection
 */
import type { Argv } from 'yargs';
import {
  buildDockerHost,
  type DockerHostState,
  type DockerSource,
  dockerNetworkInspect,
  dockerNetworkLs,
  dockerPs,
  resolveContainerName,
  traceDocker,
} from '../../cni/docker/index.js';
import { tryParseIP } from '../../netmodel/addr.js';
import type { ClusterSnapshot } from '../../netmodel/cluster/index.js';
import { planDockerHost } from '../../netmodel/docker/index.js';
import { ErrorCodes, KpathError } from '../../netmodel/errors.js';
import {
  formatBridgeFdb,
  formatIpAddr,
  formatIpLink,
  formatIpNeigh,
  formatIpRoute,
} from '../../netmodel/kernel/index.js';
import { renderRuleSave } from '../../netmodel/netfilter/index.js';
import { SeededRng } from '../../netmodel/rng.js';
import { travelLines } from '../format/trace.js';
import { type CliIO, EXIT } from '../io.js';
import { loadOrReport, withFiles } from './common.js';

export const command = 'docker <what..>';
export const describe =
  'a Docker host (kind: DockerHost): docker ps, docker network ls, its iptables rules (rules), or a trace through it';

export function builder(y: Argv) {
  return withFiles(y)
    .positional('what', {
      type: 'string',
      array: true,
      description:
        'ps | network ls | network inspect NAME | rules | trace | ip-addr | ip-link | ip-route | ip-neigh | bridge-fdb',
    })
    .option('host', { type: 'string', description: 'the DockerHost (default: the first one)' })
    .option('container', {
      type: 'string',
      description: 'ip-*/bridge-fdb: a container namespace instead of the host',
    })
    .option('from', {
      type: 'string',
      description: 'trace: container/NAME, node/HOST (the host itself) or an outside IP',
    })
    .option('to', { type: 'string', description: 'trace: IP:PORT or container/NAME:PORT' })
    .option('proto', { type: 'string', choices: ['tcp', 'udp'], default: 'tcp' })
    .option('output', { alias: 'o', type: 'string', choices: ['text', 'json'], default: 'text' });
}

interface DockerArgs {
  f?: string[];
  what: string[];
  host?: string;
  container?: string;
  from?: string;
  to?: string;
  proto: 'tcp' | 'udp';
  output: 'text' | 'json';
}

/** The Docker host named `name` (or the first), built as dockerd leaves it. */
export function dockerHostState(snap: ClusterSnapshot, name?: string): DockerHostState | undefined {
  const h = name ? snap.dockerHosts.find((x) => x.name === name) : snap.dockerHosts[0];
  return h ? buildDockerHost(planDockerHost(h).plan) : undefined;
}

function source(st: DockerHostState, text: string): DockerSource {
  if (text.startsWith('container/')) {
    const name = text.slice('container/'.length);
    if (!st.plan.containers.some((c) => c.name === name))
      throw new KpathError(
        ErrorCodes.USAGE,
        `--from ${text}: no container "${name}" (containers: ${st.plan.containers.map((c) => c.name).join(', ')})`,
      );
    return { kind: 'container', name };
  }
  if (text === `node/${st.plan.host.name}` || text === 'host') return { kind: 'host' };
  const ip = tryParseIP(text);
  if (ip?.family === 4) return { kind: 'outside', ip };
  throw new KpathError(
    ErrorCodes.USAGE,
    `--from ${text}: expected container/NAME, node/${st.plan.host.name} or an outside IPv4 address`,
  );
}

function target(st: DockerHostState, text: string, from: string) {
  const m = /^(.*):(\d+)$/.exec(text);
  if (!m)
    throw new KpathError(
      ErrorCodes.USAGE,
      `--to ${text}: expected IP:PORT, container/NAME:PORT or NAME:PORT`,
    );
  const port = Number(m[2]);
  if (m[1]!.startsWith('container/')) {
    const c = st.plan.containers.find((x) => x.name === m[1]!.slice('container/'.length));
    if (!c) throw new KpathError(ErrorCodes.USAGE, `--to ${text}: no such container`);
    return { ip: c.ip, port };
  }
  const ip = tryParseIP(m[1]!);
  if (ip?.family === 4) return { ip, port };
  // A name: resolved as the source container would, through the embedded DNS.
  if (!from.startsWith('container/'))
    throw new KpathError(
      ErrorCodes.USAGE,
      `--to ${text}: a name resolves only from a container (--from container/NAME) through Docker's embedded DNS`,
    );
  const a = resolveContainerName(st, from.slice('container/'.length), m[1]!);
  if (!a.ok) throw new KpathError(ErrorCodes.NOT_FOUND, `--to ${text}: ${a.reason}`);
  return { ip: a.ip, port };
}

export async function run(args: DockerArgs, io: CliIO): Promise<number> {
  const snap = loadOrReport(args.f, io);
  if (typeof snap === 'number') return snap;
  const st = dockerHostState(snap, args.host);
  if (!st) {
    io.err(
      args.host
        ? `error: no DockerHost "${args.host}" (hosts: ${snap.dockerHosts.map((h) => h.name).join(', ') || 'none'})\n`
        : 'error: the input has no DockerHost (kind: DockerHost, apiVersion: kpath.dev/v1alpha1)\n',
    );
    return EXIT.FAILURE;
  }
  const what = args.what.join(' ');
  switch (what) {
    case 'ps':
      io.out(dockerPs(st.plan));
      return EXIT.OK;
    case 'network ls':
      io.out(dockerNetworkLs(st.plan));
      return EXIT.OK;
    case 'rules':
      io.out(st.host.save());
      return EXIT.OK;
    default:
      break;
  }
  if (args.what[0] === 'network' && args.what[1] === 'inspect' && args.what.length === 3) {
    const text = dockerNetworkInspect(st.plan, args.what[2]!);
    if (!text) {
      io.err(`Error: No such network: ${args.what[2]}\n`);
      return EXIT.FAILURE;
    }
    io.out(text);
    return EXIT.OK;
  }
  switch (what) {
    case 'ip-addr':
    case 'ip-link':
    case 'ip-route':
    case 'ip-neigh':
    case 'bridge-fdb':
      io.out(dockerNetText(st, what, args.container));
      return EXIT.OK;
    case 'trace': {
      if (!args.from || !args.to)
        throw new KpathError(ErrorCodes.USAGE, 'docker trace needs --from and --to');
      io.out(dockerTraceText(st, args.from, args.to, args.proto, args.output));
      return EXIT.OK;
    }
    default:
      throw new KpathError(
        ErrorCodes.USAGE,
        `kpath docker ${what}: expected ps, network ls, rules, trace, ip-addr, ip-link, ip-route, ip-neigh or bridge-fdb`,
      );
  }
}

/** One connection through a Docker host, as text or the JSON `path` (kpath docker trace, kpath trace). */
export function dockerTraceText(
  st: DockerHostState,
  fromText: string,
  toText: string,
  proto: 'tcp' | 'udp',
  output: 'text' | 'json',
): string {
  const to = target(st, toText, fromText);
  const t = traceDocker(st, source(st, fromText), to.ip, to.port, proto, {
    now: 0,
    rng: new SeededRng(1),
    trace: true,
  });
  if (output === 'json')
    return `${JSON.stringify(
      {
        path: {
          arrived: t.arrived,
          legs: t.legs.map((l) => ({
            by: l.by,
            packet: `${l.packet.proto} ${l.packet.src.text}:${l.packet.sport} -> ${l.packet.dst.text}:${l.packet.dport}`,
          })),
        },
      },
      null,
      2,
    )}\n`;
  const out: string[] = [];
  for (const leg of t.legs) {
    const p = leg.packet;
    out.push(
      `${leg.by === 'docker-proxy' ? 'docker-proxy connects' : 'packet'}: ${p.proto} ${p.src.text}:${p.sport} -> ${p.dst.text}:${p.dport}`,
    );
    for (const s of leg.travel.steps) {
      if (s.kind !== 'stack') continue;
      for (const stg of s.walk.stages)
        if (stg.kind === 'table')
          for (const e of stg.trace)
            if (e.kind === 'rule') out.push(`  ${s.ns} ${e.table}: ${renderRuleSave(e.chain, e.rule)}`);
    }
    out.push('  Device by device:', ...travelLines(leg.travel, '    '));
  }
  const a = t.arrived;
  out.push(
    a.kind === 'container'
      ? `=> container ${a.container} receives it from ${a.from}`
      : a.kind === 'host'
        ? `=> delivered to a socket on the host from ${a.from}`
        : a.kind === 'outside'
          ? `=> leaves the host towards ${a.nextHop}`
          : `=> stopped in ${a.ns}: ${a.reason}`,
  );
  return `${out.join('\n')}\n`;
}

/** The input has Docker hosts and no Kubernetes node of its own (only the one kpath derives). */
export function onlyDocker(snap: ClusterSnapshot): boolean {
  return snap.dockerHosts.length > 0 && snap.nodes.every((n) => n.derived);
}

/**
 * Whether `kpath trace` is about a Docker host, and that host's trace as `kpath docker trace` takes
 * it: --from container/NAME, --to container/NAME:PORT, --from node/HOST or --node HOST naming a
 * Docker host, or an input with Docker hosts and no Kubernetes node. --src IP (an outside client)
 * and --dst IP:PORT stand in for --from and --to.
 */
export function dockerTraceRequest(
  snap: ClusterSnapshot,
  a: { node?: string; from?: string; to?: string; src?: string; dst?: string },
): { host: string; from: string; to: string } | undefined {
  if (!snap.dockerHosts.length) return undefined;
  const named = (n: string | undefined) => (n ? snap.dockerHosts.find((h) => h.name === n) : undefined);
  const containerHost = (text: string | undefined) => {
    const m = /^container\/([^:]+)/.exec(text ?? '');
    return m ? snap.dockerHosts.find((h) => h.containers.some((c) => c.name === m[1])) : undefined;
  };
  const host =
    named(a.node) ??
    named(a.from?.startsWith('node/') ? a.from.slice('node/'.length) : undefined) ??
    containerHost(a.from) ??
    containerHost(a.to) ??
    (onlyDocker(snap) ? snap.dockerHosts[0] : undefined);
  if (!host) return undefined;
  const from = a.from ?? (a.src ? a.src.replace(/:\d+$/, '') : `node/${host.name}`);
  const to = a.to ?? a.dst;
  if (!to)
    throw new KpathError(
      ErrorCodes.USAGE,
      `a trace through Docker host ${host.name} needs --to IP:PORT, container/NAME:PORT or NAME:PORT`,
    );
  return { host: host.name, from, to };
}

/** ip addr/link/route/neigh or bridge fdb of the Docker host's namespace or one container's. */
export function dockerNetText(
  st: DockerHostState,
  what: 'ip-addr' | 'ip-link' | 'ip-route' | 'ip-neigh' | 'bridge-fdb',
  container?: string,
): string {
  const ns = container ? `container/${st.plan.host.name}/${container}` : st.plan.host.name;
  const k = st.ns(ns);
  if (!k)
    throw new KpathError(
      ErrorCodes.NOT_FOUND,
      `--container ${container}: no such container on ${st.plan.host.name} (containers: ${st.plan.containers.map((c) => c.name).join(', ')})`,
    );
  const ctx = { world: st, ns };
  return what === 'ip-addr'
    ? formatIpAddr(k, ctx)
    : what === 'ip-link'
      ? formatIpLink(k, ctx)
      : what === 'ip-route'
        ? formatIpRoute(k)
        : what === 'ip-neigh'
          ? formatIpNeigh(k)
          : formatBridgeFdb(k);
}

/**
 * `kpath net` on a Docker host: --node HOST naming one, --container NAME, or an input with Docker
 * hosts and no Kubernetes node. Undefined: not about a Docker host.
 */
export function dockerNetFor(
  snap: ClusterSnapshot,
  a: { node?: string; pod?: string; container?: string },
): DockerHostState | undefined {
  if (a.pod) return undefined;
  const host = a.container
    ? (snap.dockerHosts.find(
        (h) => (!a.node || h.name === a.node) && h.containers.some((c) => c.name === a.container),
      ) ??
      (() => {
        throw new KpathError(
          ErrorCodes.NOT_FOUND,
          `--container ${a.container}: no such container (see: kpath get containers)`,
        );
      })())
    : (snap.dockerHosts.find((h) => h.name === a.node) ??
      (!a.node && onlyDocker(snap) ? snap.dockerHosts[0] : undefined));
  return host ? dockerHostState(snap, host.name) : undefined;
}
