/**
 * Engine 28's layout against moby's own documentation of it: moby v28.5.2
 * integration/network/bridge/iptablesdoc/generated/{usernet-portmap,usernet-portmap-noproxy,
 * usernet-portmap-noicc,usernet-internal}.md, which moby's integration tests generate from a running
 * daemon (`iptables -S` per table). The expected lines below are those documents' "iptables
 * commands" sections; rules are compared chain by chain in order. Then the same rules loaded into a
 * real iptables in a namespace give the emulated host's iptables-save byte for byte.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { buildDockerHost } from '../../cni/docker/index.js';
import { planOf, stripSave } from './helpers.js';

function host(proxy: boolean, networks: string, containers: string): string {
  return `apiVersion: kpath.dev/v1alpha1
kind: DockerHost
metadata: {name: host}
spec:
  address: 10.99.0.10/24
  ipForward: true
  engine: {version: "28", userlandProxy: ${proxy}}
  networks: [${networks}]
  containers: [${containers}]
`;
}
const BRIDGE1 = '{name: bridge1, subnet: 192.0.2.0/24, options: {com.docker.network.bridge.name: bridge1}}';
const C1 = '{name: c1, image: busybox, network: bridge1, ports: ["8080:80"]}';

/** `-A CHAIN ...` lines of one table, grouped by chain in first-seen order of `chains`. */
function table(save: string, name: string): Map<string, string[]> {
  const block = save.split(`*${name}\n`)[1]?.split('COMMIT')[0] ?? '';
  const out = new Map<string, string[]>();
  for (const l of block.split('\n').filter((x) => x.startsWith('-A '))) {
    const chain = l.split(' ')[1]!;
    out.set(chain, [...(out.get(chain) ?? []), l]);
  }
  return out;
}
function byChain(lines: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const l of lines) out.set(l.split(' ')[1]!, [...(out.get(l.split(' ')[1]!) ?? []), l]);
  return out;
}
function expectTable(save: string, name: string, doc: string[]): void {
  expect(Object.fromEntries(table(save, name))).toEqual(Object.fromEntries(byChain(doc)));
}

const PORTMAP_FILTER = [
  '-A FORWARD -j DOCKER-USER',
  '-A FORWARD -j DOCKER-FORWARD',
  '-A DOCKER -d 192.0.2.2/32 ! -i bridge1 -o bridge1 -p tcp -m tcp --dport 80 -j ACCEPT',
  '-A DOCKER ! -i docker0 -o docker0 -j DROP',
  '-A DOCKER ! -i bridge1 -o bridge1 -j DROP',
  '-A DOCKER-BRIDGE -o docker0 -j DOCKER',
  '-A DOCKER-BRIDGE -o bridge1 -j DOCKER',
  '-A DOCKER-CT -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
  '-A DOCKER-CT -o bridge1 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
  '-A DOCKER-FORWARD -j DOCKER-CT',
  '-A DOCKER-FORWARD -j DOCKER-ISOLATION-STAGE-1',
  '-A DOCKER-FORWARD -j DOCKER-BRIDGE',
  '-A DOCKER-FORWARD -i docker0 -j ACCEPT',
  '-A DOCKER-FORWARD -i bridge1 -j ACCEPT',
  '-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2',
  '-A DOCKER-ISOLATION-STAGE-1 -i bridge1 ! -o bridge1 -j DOCKER-ISOLATION-STAGE-2',
  '-A DOCKER-ISOLATION-STAGE-2 -o bridge1 -j DROP',
  '-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP',
];

describe('engine 28 (moby v28.5.2 iptablesdoc)', () => {
  it('usernet-portmap: a user network with -p 8080:80, userland proxy on', () => {
    const save = buildDockerHost(planOf(host(true, BRIDGE1, C1))).host.save();
    expectTable(save, 'filter', PORTMAP_FILTER);
    expectTable(save, 'nat', [
      '-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER',
      '-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER',
      '-A POSTROUTING -s 192.0.2.0/24 ! -o bridge1 -j MASQUERADE',
      '-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE',
      '-A DOCKER -i bridge1 -j RETURN',
      '-A DOCKER -i docker0 -j RETURN',
      '-A DOCKER ! -i bridge1 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.0.2.2:80',
    ]);
    expectTable(save, 'raw', ['-A PREROUTING -d 192.0.2.2/32 ! -i bridge1 -j DROP']);
  });

  it('usernet-portmap-noproxy: hairpin NAT instead of the RETURN rules', () => {
    const save = buildDockerHost(planOf(host(false, BRIDGE1, C1))).host.save();
    expectTable(save, 'nat', [
      '-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER',
      '-A OUTPUT -m addrtype --dst-type LOCAL -j DOCKER',
      '-A POSTROUTING -o bridge1 -m addrtype --src-type LOCAL -j MASQUERADE',
      '-A POSTROUTING -s 192.0.2.0/24 ! -o bridge1 -j MASQUERADE',
      '-A POSTROUTING -o docker0 -m addrtype --src-type LOCAL -j MASQUERADE',
      '-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE',
      '-A POSTROUTING -s 192.0.2.2/32 -d 192.0.2.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE',
      '-A DOCKER -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.0.2.2:80',
    ]);
  });

  it('usernet-portmap-noicc: DROP within the bridge, ACCEPT out of it', () => {
    const noicc = BRIDGE1.replace('options: {', 'options: {com.docker.network.bridge.enable_icc: "false", ');
    const save = buildDockerHost(planOf(host(true, noicc, C1))).host.save();
    expectTable(
      save,
      'filter',
      PORTMAP_FILTER.flatMap((l) =>
        l === '-A DOCKER-FORWARD -i bridge1 -j ACCEPT'
          ? [
              '-A DOCKER-FORWARD -i bridge1 -o bridge1 -j DROP',
              '-A DOCKER-FORWARD -i bridge1 ! -o bridge1 -j ACCEPT',
            ]
          : [l],
      ),
    );
  });

  it('usernet-internal: two --internal networks, with and without icc', () => {
    const nets = [
      '{name: bridgeICC, internal: true, subnet: 192.0.2.0/24, options: {com.docker.network.bridge.name: bridgeICC}}',
      '{name: bridgeNoICC, internal: true, subnet: 198.51.100.0/24, options: {com.docker.network.bridge.name: bridgeNoICC, com.docker.network.bridge.enable_icc: "false"}}',
    ].join(', ');
    const ctrs =
      '{name: c1, image: busybox, network: bridgeICC}, {name: c2, image: busybox, network: bridgeNoICC}';
    const save = buildDockerHost(planOf(host(true, nets, ctrs))).host.save();
    expectTable(save, 'filter', [
      '-A FORWARD -j DOCKER-USER',
      '-A FORWARD -j DOCKER-FORWARD',
      '-A DOCKER ! -i docker0 -o docker0 -j DROP',
      '-A DOCKER-BRIDGE -o docker0 -j DOCKER',
      '-A DOCKER-CT -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-A DOCKER-FORWARD -j DOCKER-CT',
      '-A DOCKER-FORWARD -j DOCKER-ISOLATION-STAGE-1',
      '-A DOCKER-FORWARD -j DOCKER-BRIDGE',
      '-A DOCKER-FORWARD -i docker0 -j ACCEPT',
      '-A DOCKER-FORWARD -i bridgeICC -o bridgeICC -j ACCEPT',
      '-A DOCKER-FORWARD -i bridgeNoICC -o bridgeNoICC -j DROP',
      '-A DOCKER-ISOLATION-STAGE-1 ! -s 198.51.100.0/24 -o bridgeNoICC -j DROP',
      '-A DOCKER-ISOLATION-STAGE-1 ! -d 198.51.100.0/24 -i bridgeNoICC -j DROP',
      '-A DOCKER-ISOLATION-STAGE-1 ! -s 192.0.2.0/24 -o bridgeICC -j DROP',
      '-A DOCKER-ISOLATION-STAGE-1 ! -d 192.0.2.0/24 -i bridgeICC -j DROP',
      '-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2',
      '-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP',
    ]);
    expectTable(save, 'nat', [
      '-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER',
      '-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER',
      '-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE',
      '-A DOCKER -i docker0 -j RETURN',
    ]);
    expectTable(save, 'raw', []);
  });
});

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const NS = `kp-dk28-${process.pid}`;
describe.skipIf(!isRoot || !existsSync('/usr/sbin/iptables-save'))('engine 28 in a real iptables', () => {
  afterAll(() => {
    try {
      execFileSync('ip', ['netns', 'delete', NS]);
    } catch {}
  });
  it("the commands loaded by the real iptables give the emulated host's iptables-save", () => {
    const st = buildDockerHost(
      planOf(
        host(
          true,
          BRIDGE1,
          `${C1}, {name: c2, image: x, network: bridge1, ports: ["127.0.0.1:9000:90/udp"]}`,
        ),
      ),
    );
    execFileSync('ip', ['netns', 'add', NS]);
    const q = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
    const script = st.commands.map((c) => `iptables -w ${c.map(q).join(' ')}`).join(' &&\n');
    execFileSync('ip', ['netns', 'exec', NS, 'sh', '-e', '-c', script]);
    const real = stripSave(execFileSync('ip', ['netns', 'exec', NS, 'iptables-save'], { encoding: 'utf8' }));
    expect(real).toContain('-A PREROUTING -d 127.0.0.1/32 ! -i lo -p udp -m udp --dport 9000 -j DROP');
    expect(stripSave(st.host.save())).toBe(real);
  });
});
