/**
 * The real kernel side: dockerd's iptables commands run one by one by the real iptables in a network
 * namespace this test creates (and deletes), then iptables-save compared byte for byte with the
 * emulated host's iptables-save; and the same bridges, veths and container namespaces built with
 * iproute2, the routes compared with `ip route`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { buildDockerHost } from '../../cni/docker/index.js';
import { formatIpRoute } from '../../netmodel/kernel/index.js';
import { dockerHostYaml, ICC_HOST, planOf, stripSave } from './helpers.js';

const PREFIX = `kp-dk-${process.pid}`;
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const missing = ['/usr/sbin/iptables', '/usr/sbin/iptables-save', '/usr/sbin/ip'].filter(
  (b) => !existsSync(b),
);
const skipReason = !isRoot ? 'needs root' : missing.length ? `missing ${missing.join(', ')}` : '';
const made: string[] = [];

function netns(name: string): string {
  const ns = `${PREFIX}-${name}`;
  execFileSync('ip', ['netns', 'add', ns]);
  made.push(ns);
  return ns;
}
function inNs(ns: string, args: string[], input?: string): string {
  return execFileSync('ip', ['netns', 'exec', ns, ...args], {
    input,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}
const q = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;

describe.skipIf(skipReason !== '')(
  `dockerd in a real namespace${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    afterAll(() => {
      for (const ns of made) execFileSync('ip', ['netns', 'delete', ns]);
    });

    for (const proxy of [true, false]) {
      it(`iptables-save after dockerd's commands equals the emulated host's (userland proxy ${proxy ? 'on' : 'off'})`, () => {
        const st = buildDockerHost(planOf(dockerHostYaml({ proxy })));
        const ns = netns(proxy ? 'on' : 'off');
        // One shell, every command in dockerd's order: `iptables -t TABLE -I/-A/-D/-N ...`.
        const script = st.commands.map((c) => `iptables -w ${c.map(q).join(' ')}`).join(' &&\n');
        inNs(ns, ['sh', '-e', '-c', script]);
        const real = stripSave(inNs(ns, ['iptables-save']));
        expect(real).toContain('-A DOCKER-USER -j RETURN');
        expect(real).toContain('--to-destination 172.18.0.2:90');
        expect(stripSave(st.host.save())).toBe(real);
      });
    }

    it('sctp publishing (mangle CHECKSUM fill): iptables-save after the commands equals the emulated host', () => {
      const st = buildDockerHost(
        planOf(
          dockerHostYaml({ proxy: true, extra: '    - {name: diam, image: x, ports: ["3868:3868/sctp"]}\n' }),
        ),
      );
      const ns = netns('sctp');
      inNs(ns, ['sh', '-e', '-c', st.commands.map((c) => `iptables -w ${c.map(q).join(' ')}`).join(' &&\n')]);
      const real = stripSave(inNs(ns, ['iptables-save']));
      expect(real).toContain('-A POSTROUTING -p sctp -m sctp --sport 3868 -j CHECKSUM --checksum-fill');
      expect(stripSave(st.host.save())).toBe(real);
    });

    it('icc=false and --internal: iptables-save after the commands equals the emulated host', () => {
      const st = buildDockerHost(planOf(ICC_HOST));
      const ns = netns('icc');
      inNs(ns, ['sh', '-e', '-c', st.commands.map((c) => `iptables -w ${c.map(q).join(' ')}`).join(' &&\n')]);
      const real = stripSave(inNs(ns, ['iptables-save']));
      expect(real).toContain('-A FORWARD -i docker0 -o docker0 -j DROP');
      expect(real).toMatch(/-A DOCKER-ISOLATION-STAGE-1 ! -s 172\.18\.0\.0\/16 -o br-[0-9a-f]{12} -j DROP/);
      expect(stripSave(st.host.save())).toBe(real);
    });

    it('ip route in the host and a container equals the emulated one (bridges, veths, addresses)', () => {
      const st = buildDockerHost(planOf(dockerHostYaml({ proxy: true })));
      const host = netns('host');
      const sh = (ns: string, cmd: string) => inNs(ns, ['sh', '-e', '-c', cmd]);
      sh(
        host,
        `ip link add eth0 type veth peer name eth0-peer && ip link set eth0 up && ip link set eth0-peer up &&
      ip addr add ${st.plan.host.address.ip.text}/${st.plan.host.address.bits} dev eth0 &&
      ip route add default via 192.0.2.1 dev eth0`,
      );
      for (const n of st.plan.networks)
        sh(
          host,
          `ip link add ${n.bridge} type bridge && ip addr add ${n.gateway.text}/${n.subnet.bits} dev ${n.bridge} && ip link set ${n.bridge} up`,
        );
      for (const c of st.plan.containers) {
        const cns = netns(`c-${c.name}`);
        sh(
          host,
          `ip link add ${c.veth} type veth peer name ceth && ip link set ${c.veth} master ${c.network.bridge} &&
        ip link set ${c.veth} up && ip link set ceth netns ${cns}`,
        );
        sh(
          cns,
          `ip link set ceth name eth0 && ip link set eth0 address ${c.mac} && ip addr add ${c.ip.text}/${c.network.subnet.bits} dev eth0 &&
        ip link set eth0 up && ip link set lo up && ip route add default via ${c.network.gateway.text} dev eth0`,
        );
        const realC = sh(cns, 'ip route');
        expect(formatIpRoute(st.container(c.name)!)).toBe(realC);
        expect(sh(cns, 'cat /sys/class/net/eth0/address').trim()).toBe(c.mac);
      }
      // Let carrier settle on the bridges (a bridge with no up port is linkdown).
      sh(host, 'sleep 0.2');
      expect(formatIpRoute(st.host)).toBe(sh(host, 'ip route'));
    });
  },
);
