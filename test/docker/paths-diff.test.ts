/**
 * The emulated paths against the real kernel: the same Docker host built in network namespaces this
 * test creates (host with eth0 on a LAN namespace, docker0 and the user bridge, a namespace per
 * container, dockerd's iptables commands, ip_forward, and with the proxy off route_localnet and
 * hairpin ports), a real listener in the receiving container printing the source it sees, a real
 * client. Paths docker-proxy carries are left out (no docker-proxy here); each remaining path's
 * emulated outcome must equal the kernel's.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  buildDockerHost,
  type DockerHostState,
  type DockerSource,
  traceDocker,
} from '../../cni/docker/index.js';
import { parseIP } from '../../netmodel/addr.js';
import { SeededRng } from '../../netmodel/rng.js';
import { dockerHostYaml, ICC_HOST, planOf } from './helpers.js';

const PREFIX = `kp-dkp-${process.pid}`;
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const skipReason = !isRoot
  ? 'needs root'
  : !existsSync('/usr/sbin/iptables') || !existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables')
    ? 'needs iptables and br_netfilter'
    : '';
const made: string[] = [];
const q = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;

function sh(ns: string, cmd: string): string {
  return execFileSync('ip', ['netns', 'exec', ns, 'sh', '-e', '-c', cmd], {
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

interface Real {
  host: string;
  lan: string;
  ctr: (name: string) => string;
}

function buildReal(st: DockerHostState, tag: string): Real {
  const mk = (n: string) => {
    const ns = `${PREFIX}-${tag}-${n}`;
    execFileSync('ip', ['netns', 'add', ns]);
    made.push(ns);
    return ns;
  };
  const host = mk('host');
  const lan = mk('lan');
  const proxy = st.plan.host.engine.userlandProxy;
  sh(
    host,
    `ip link set lo up && ip link add eth0 type veth peer name lan0 && ip link set lan0 netns ${lan} &&
    ip addr add 192.0.2.10/24 dev eth0 && ip link set eth0 up && ip route add default via 192.0.2.1 dev eth0 &&
    sysctl -qw net.ipv4.ip_forward=1 && (sysctl -qw net.bridge.bridge-nf-call-iptables=1 || true)`,
  );
  sh(
    lan,
    `ip link set lo up && ip addr add 192.0.2.1/24 dev lan0 && ip addr add 192.0.2.99/24 dev lan0 &&
    ip addr add 198.51.100.7/32 dev lan0 && ip link set lan0 up &&
    ip route add 172.16.0.0/12 via 192.0.2.10 dev lan0`,
  );
  for (const n of st.plan.networks)
    sh(
      host,
      `ip link add ${n.bridge} type bridge && ip addr add ${n.gateway.text}/${n.subnet.bits} dev ${n.bridge} &&
      ip link set ${n.bridge} up${proxy ? '' : ` && sysctl -qw net.ipv4.conf.${n.bridge}.route_localnet=1`}`,
    );
  const ctrs = new Map<string, string>();
  for (const c of st.plan.containers) {
    const cns = mk(`c-${c.name}`);
    ctrs.set(c.name, cns);
    sh(
      host,
      `ip link add ${c.veth} type veth peer name ceth && ip link set ${c.veth} master ${c.network.bridge} &&
      ip link set ${c.veth} up && ip link set ceth netns ${cns}${proxy ? '' : ` && bridge link set dev ${c.veth} hairpin on`}`,
    );
    sh(
      cns,
      `ip link set lo up && ip link set ceth name eth0 && ip link set eth0 address ${c.mac} &&
      ip addr add ${c.ip.text}/${c.network.subnet.bits} dev eth0 && ip link set eth0 up${
        c.network.internal ? '' : ` && ip route add default via ${c.network.gateway.text} dev eth0`
      }`,
    );
  }
  sh(host, st.commands.map((c) => `iptables -w ${c.map(q).join(' ')}`).join(' && '));
  return { host, lan, ctr: (n) => ctrs.get(n)! };
}

const SERVER = `
const [proto, port] = process.argv.slice(1);
const done = (t) => { console.log(t); process.exit(0); };
setTimeout(() => done('none'), 1000);
if (proto === 'tcp') require('net').createServer((s) => done(s.remoteAddress)).listen(+port, '0.0.0.0', () => console.log('ready'));
else { const u = require('dgram').createSocket('udp4'); u.on('message', (m, r) => done(r.address)); u.bind(+port, () => console.log('ready')); }`;
const CLIENT = `
const [proto, host, port, local] = process.argv.slice(1);
setTimeout(() => process.exit(0), 700);
if (proto === 'tcp') { const c = require('net').connect({ host, port: +port, ...(local ? { localAddress: local } : {}) }); c.on('connect', () => process.exit(0)); c.on('error', () => {}); }
else { const u = require('dgram').createSocket('udp4'); u.bind(local ? { address: local } : 0, () => u.send('x', +port, host, () => setTimeout(() => process.exit(0), 100))); }`;

async function realPath(
  r: Real,
  from: DockerSource,
  dst: string,
  port: number,
  proto: 'tcp' | 'udp',
  to: string,
  listen: number,
): Promise<string> {
  const server: ChildProcess = spawn('ip', [
    'netns',
    'exec',
    r.ctr(to),
    process.execPath,
    '-e',
    SERVER,
    proto,
    String(listen),
  ]);
  let out = '';
  const ready = new Promise<void>((res) =>
    server.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) res();
    }),
  );
  const ended = new Promise<void>((res) => server.on('close', () => res()));
  await ready;
  const ns = from.kind === 'container' ? r.ctr(from.name) : from.kind === 'host' ? r.host : r.lan;
  const local = from.kind === 'outside' ? from.ip.text : '';
  execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', CLIENT, proto, dst, String(port), local]);
  await ended;
  const seen = out.replace('ready', '').trim();
  return seen === 'none' ? 'no connection' : `${to} from ${seen}`;
}

function emulated(
  st: DockerHostState,
  from: DockerSource,
  dst: string,
  port: number,
  proto: 'tcp' | 'udp',
): string {
  const t = traceDocker(st, from, parseIP(dst), port, proto, { now: 0, rng: new SeededRng(1) });
  const a = t.arrived;
  return a.kind === 'container' ? `${a.container} from ${a.from.split(':')[0]}` : 'no connection';
}

const HOST = { kind: 'host' } as const;
const web = { kind: 'container', name: 'web' } as const;
const db = { kind: 'container', name: 'db' } as const;
const out = (ip: string): DockerSource => ({ kind: 'outside', ip: parseIP(ip) });
// name, from, dst, port, proto, receiver, its listening port, modes (on/off)
const PATHS: [string, DockerSource, string, number, 'tcp' | 'udp', string, number, boolean[]][] = [
  ['host to 127.0.0.1:8080', HOST, '127.0.0.1', 8080, 'tcp', 'web', 80, [false]],
  ['host to its own address:8080', HOST, '192.0.2.10', 8080, 'tcp', 'web', 80, [true, false]],
  ['host to the docker0 address:8080', HOST, '172.17.0.1', 8080, 'tcp', 'web', 80, [true, false]],
  ['host to the container IP', HOST, '172.17.0.2', 80, 'tcp', 'web', 80, [true, false]],
  ['outside to the published port', out('198.51.100.7'), '192.0.2.10', 8080, 'tcp', 'web', 80, [true, false]],
  ['LAN to the container directly', out('192.0.2.99'), '172.17.0.2', 80, 'tcp', 'web', 80, [true, false]],
  ['LAN to an unpublished container', out('192.0.2.99'), '172.18.0.3', 6379, 'tcp', 'db', 6379, [true]],
  ['container to its own published port (hairpin NAT)', web, '192.0.2.10', 8080, 'tcp', 'web', 80, [false]],
  ['another bridge to a published port', db, '192.0.2.10', 8080, 'tcp', 'web', 80, [false]],
  ['across bridges (isolation)', web, '172.18.0.3', 6379, 'tcp', 'db', 6379, [true, false]],
  ['same bridge', db, '172.18.0.2', 90, 'udp', 'api', 90, [true]],
  ['host to 127.0.0.1:9000/udp', HOST, '127.0.0.1', 9000, 'udp', 'api', 90, [false]],
];

const ctr = (name: string): DockerSource => ({ kind: 'container', name });
// secret is 172.18.0.0/16 (internal), quiet 172.19.0.0/16.
const ICC_PATHS: [string, DockerSource, string, number, 'tcp' | 'udp', string, number][] = [
  ['docker0 with --icc=false, container to container', ctr('web'), '172.17.0.3', 80, 'tcp', 'web2', 80],
  ['enable_icc=false bridge, container to container', ctr('q1'), '172.19.0.3', 7, 'tcp', 'q2', 7],
  ['internal network, container to container', ctr('vault'), '172.18.0.3', 8200, 'tcp', 'vault2', 8200],
  ['internal network to another bridge (no gateway)', ctr('vault'), '172.17.0.2', 80, 'tcp', 'web', 80],
  ['another bridge into the internal network', ctr('web'), '172.18.0.2', 8200, 'tcp', 'vault', 8200],
  ['LAN into the internal network', out('192.0.2.99'), '172.18.0.2', 8200, 'tcp', 'vault', 8200],
  ['host into the internal network', HOST, '172.18.0.2', 8200, 'tcp', 'vault', 8200],
  ['outside to a port published on docker0', out('198.51.100.7'), '192.0.2.10', 8080, 'tcp', 'web', 80],
  ['host to a container on the icc=false bridge', HOST, '172.19.0.2', 7, 'tcp', 'q1', 7],
];

describe.skipIf(skipReason !== '')(
  `Docker paths, emulated vs the real kernel${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    afterAll(() => {
      for (const ns of made) execFileSync('ip', ['netns', 'delete', ns]);
    });
    for (const proxy of [true, false]) {
      it(`userland proxy ${proxy ? 'on' : 'off'}: every path's receiver and the source it sees`, async () => {
        const st = buildDockerHost(planOf(dockerHostYaml({ proxy })));
        const real = buildReal(st, proxy ? 'on' : 'off');
        const got: string[] = [];
        const want: string[] = [];
        for (const [name, from, dst, port, proto, to, listen, modes] of PATHS) {
          if (!modes.includes(proxy)) continue;
          want.push(`${name}: ${await realPath(real, from, dst, port, proto, to, listen)}`);
          got.push(`${name}: ${emulated(st, from, dst, port, proto)}`);
        }
        expect(got).toEqual(want);
      }, 60_000);
    }

    it('icc=false (daemon --icc and enable_icc) and an --internal network: receivers and sources', async () => {
      const st = buildDockerHost(planOf(ICC_HOST));
      const real = buildReal(st, 'icc');
      const got: string[] = [];
      const want: string[] = [];
      for (const [name, from, dst, port, proto, to, listen] of ICC_PATHS) {
        want.push(`${name}: ${await realPath(real, from, dst, port, proto, to, listen)}`);
        got.push(`${name}: ${emulated(st, from, dst, port, proto)}`);
      }
      // Not every path is refused: the layout must let some through.
      expect(want.filter((w) => !w.endsWith('no connection')).length).toBeGreaterThan(2);
      expect(got).toEqual(want);
    }, 60_000);
  },
);
