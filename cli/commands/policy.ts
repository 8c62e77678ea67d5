/**
 * `kpath policy`: NetworkPolicy decisions, explained.
 *
 *   kpath policy check --from pod/x/b --to pod/x/a:80/TCP     # verdict of both sides, with reasons
 *   kpath policy check --from 192.168.5.4 --to pod/x/a:http -o json
 *   kpath policy matrix --port 80 --proto TCP -A             # the e2e suite's truth table
 *   kpath policy denials                                      # what a running kpath up denied
 *
 * check exits 0 when the connection is allowed and 1 when it is denied (as `kubectl auth can-i`).
 */
import type { Argv } from 'yargs';
import { type IP, tryParseIP } from '../../netmodel/addr.js';
import type { ClusterSnapshot, Pod, Protocol } from '../../netmodel/cluster/index.js';
import { ErrorCodes, KpathError } from '../../netmodel/errors.js';
import {
  type DirectionVerdict,
  type PolicyDecision,
  PolicyEngine,
  reachability,
  truthTable,
} from '../../netmodel/policy/index.js';
import { fetchAdmin } from '../../proxy/runtime/admin-client.js';
import type { PolicyDenial } from '../../proxy/runtime/index.js';
import { renderTable } from '../format/table.js';
import { type CliIO, EXIT } from '../io.js';
import { loadOrReport, withFiles } from './common.js';
import { withAdmin } from './conntrack.js';

export const command = 'policy <action>';
export const describe =
  'NetworkPolicy: check one connection (with the policies and rules that decide it), the pod-to-pod matrix, or the denials of a running kpath up';

export function builder(y: Argv) {
  return withAdmin(withFiles(y))
    .positional('action', { type: 'string', choices: ['check', 'matrix', 'denials'] })
    .option('from', { type: 'string', description: 'check: the source, pod/NS/NAME or an IP address' })
    .option('to', {
      type: 'string',
      description:
        'check: the destination, pod/NS/NAME:PORT[/PROTO] (PORT a number or a container port name)',
    })
    .option('port', { type: 'number', default: 80, description: 'matrix: the destination port' })
    .option('proto', {
      type: 'string',
      default: 'TCP',
      coerce: (v: string) => v.toUpperCase(),
      choices: ['TCP', 'UDP', 'SCTP'],
      description: 'matrix: the protocol',
    })
    .option('namespace', {
      alias: 'n',
      type: 'string',
      description: 'matrix: pods of this namespace (default: default)',
    })
    .option('all-namespaces', {
      alias: 'A',
      type: 'boolean',
      default: false,
      description: 'matrix: every namespace',
    })
    .option('output', { alias: 'o', type: 'string', choices: ['text', 'json'], default: 'text' })
    .epilogue(
      'check exits 0 when allowed and 1 when denied. Egress is decided at the source pod, ingress at the destination pod; ' +
        'ipBlock matches the addresses the CNI sees (the endpoint after DNAT, the source before SNAT).',
    );
}

interface Args {
  action: 'check' | 'matrix' | 'denials';
  f?: string[];
  from?: string;
  to?: string;
  port: number;
  proto: Protocol;
  namespace?: string;
  allNamespaces: boolean;
  output: 'text' | 'json';
  admin: string;
}

function usage(msg: string): KpathError {
  return new KpathError(ErrorCodes.USAGE, msg);
}

function findPod(snap: ClusterSnapshot, ns: string, name: string): Pod {
  const p = snap.pod(ns, name);
  if (!p)
    throw new KpathError(ErrorCodes.NOT_FOUND, `pod ${ns}/${name} does not exist (see: kpath get pods -A)`);
  if (!p.podIPs[0])
    throw new KpathError(ErrorCodes.NOT_FOUND, `pod ${ns}/${name} has no IP (it is ${p.phase})`);
  return p;
}

function parseFrom(text: string, snap: ClusterSnapshot): { ip: IP; pod?: Pod } {
  const m = /^pod\/([^/]+)\/([^/]+)$/.exec(text);
  if (m) {
    const pod = findPod(snap, m[1]!, m[2]!);
    return { ip: pod.podIPs[0]!, pod };
  }
  const ip = tryParseIP(text);
  if (!ip) throw usage(`--from ${text}: expected pod/NAMESPACE/NAME or an IP address such as 10.244.1.5`);
  return { ip };
}

function parseTo(
  text: string,
  snap: ClusterSnapshot,
): { ip: IP; pod: Pod; port: number; protocol: Protocol } {
  const m = /^pod\/([^/]+)\/([^/:]+):([^/]+)(?:\/([A-Za-z]+))?$/.exec(text);
  if (!m) throw usage(`--to ${text}: expected pod/NAMESPACE/NAME:PORT[/PROTO], e.g. pod/x/a:80/TCP`);
  const proto = (m[4] ?? 'TCP').toUpperCase();
  if (proto !== 'TCP' && proto !== 'UDP' && proto !== 'SCTP')
    throw usage(`--to ${text}: protocol ${m[4]} is not one of TCP, UDP, SCTP`);
  const pod = findPod(snap, m[1]!, m[2]!);
  let port = Number(m[3]);
  if (!/^\d+$/.test(m[3]!)) {
    const named = pod.containers.flatMap((c) => c.ports).find((p) => p.name === m[3] && p.protocol === proto);
    if (!named)
      throw usage(
        `--to ${text}: pod ${m[1]}/${m[2]} has no ${proto} container port named "${m[3]}" (its ports: ${
          pod.containers
            .flatMap((c) => c.ports)
            .map((p) => `${p.name ?? p.containerPort}/${p.protocol}`)
            .join(', ') || 'none'
        })`,
      );
    port = named.containerPort;
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw usage(`--to ${text}: port must be 1-65535`);
  const ip = pod.podIPs[0]!;
  return { ip, pod, port, protocol: proto };
}

function verdictLine(v: DirectionVerdict): string {
  const side = v.direction === 'Egress' ? 'egress at the source' : 'ingress at the destination';
  return `  ${side} ${v.pod}: ${v.allowed ? 'allowed' : 'DENIED'}: ${v.reason}`;
}

export function checkText(d: PolicyDecision, head: string): string {
  const lines = [`${head}: ${d.allowed ? 'allowed' : 'DENIED'}`];
  if (d.note) lines.push(`  ${d.note}`);
  if (d.egress) lines.push(verdictLine(d.egress));
  else if (!d.note) lines.push('  egress: the source is not a pod; no egress policy applies');
  if (d.ingress) lines.push(verdictLine(d.ingress));
  for (const v of [d.egress, d.ingress]) {
    if (!v || v.allowedBy.length < 2) continue;
    lines.push(
      `  also allowed by: ${v.allowedBy
        .slice(1)
        .map((r) => `${r.policy} ${r.direction.toLowerCase()}[${r.rule}]`)
        .join(', ')}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

async function check(args: Args, snap: ClusterSnapshot, io: CliIO): Promise<number> {
  if (!args.from || !args.to)
    throw usage('policy check needs --from pod/NS/NAME|IP and --to pod/NS/NAME:PORT[/PROTO]');
  const from = parseFrom(args.from, snap);
  const to = parseTo(args.to, snap);
  const engine = new PolicyEngine(snap);
  const d = engine.check({
    src: from.pod ? { ip: from.ip, pod: from.pod } : { ip: from.ip },
    dst: { ip: to.ip, pod: to.pod },
    port: to.port,
    protocol: to.protocol,
  });
  const name = (p: Pod | undefined) => (p ? ` (pod ${p.meta.namespace}/${p.meta.name})` : '');
  if (args.output === 'json') {
    io.out(
      `${JSON.stringify(
        {
          from: {
            ip: from.ip.text,
            ...(from.pod ? { pod: `${from.pod.meta.namespace}/${from.pod.meta.name}` } : {}),
          },
          to: {
            ip: to.ip.text,
            pod: `${to.pod.meta.namespace}/${to.pod.meta.name}`,
            port: to.port,
            protocol: to.protocol,
          },
          ...d,
        },
        null,
        2,
      )}\n`,
    );
  } else {
    io.out(
      checkText(
        d,
        `${to.protocol} ${from.ip.text}${name(from.pod)} -> ${to.ip.text}:${to.port}${name(to.pod)}`,
      ),
    );
  }
  return d.allowed ? EXIT.OK : EXIT.FAILURE;
}

function matrix(args: Args, snap: ClusterSnapshot, io: CliIO): number {
  if (!Number.isInteger(args.port) || args.port < 1 || args.port > 65535)
    throw usage(`--port ${args.port}: must be 1-65535`);
  const ns = args.namespace ?? 'default';
  const pods = snap.pods.filter((p) => args.allNamespaces || p.meta.namespace === ns);
  const m = reachability(new PolicyEngine(snap), pods, args.port, args.proto);
  if (args.output === 'json') {
    io.out(`${JSON.stringify(m, null, 2)}\n`);
    return EXIT.OK;
  }
  if (m.pods.length === 0) {
    io.err(
      args.allNamespaces
        ? 'No pods with an address found\n'
        : `No pods with an address in ${ns} namespace.\n`,
    );
    return EXIT.OK;
  }
  io.out(truthTable(m));
  return EXIT.OK;
}

async function denials(args: Args, io: CliIO): Promise<number> {
  const r = await fetchAdmin<{ denials: PolicyDenial[] }>(args.admin, '/api/v1/denials');
  if (args.output === 'json') {
    io.out(`${JSON.stringify(r, null, 2)}\n`);
    return EXIT.OK;
  }
  if (r.denials.length === 0) {
    io.err('No connections denied by NetworkPolicy.\n');
    return EXIT.OK;
  }
  io.out(
    renderTable(
      ['TIME', 'PROTO', 'CLIENT', 'SERVICE', 'ENDPOINT', 'DIRECTION', 'POD', 'POLICIES', 'ACTION'],
      r.denials.map((d) => [
        new Date(d.time).toISOString(),
        d.protocol,
        d.client,
        d.servicePort,
        d.endpoint,
        d.direction,
        d.pod,
        d.policies.join(','),
        d.action,
      ]),
    ),
  );
  return EXIT.OK;
}

export async function run(args: Args, io: CliIO): Promise<number> {
  if (args.action === 'denials') return denials(args, io);
  const snap = loadOrReport(args.f, io);
  if (typeof snap === 'number') return snap;
  return args.action === 'check' ? check(args, snap, io) : matrix(args, snap, io);
}
