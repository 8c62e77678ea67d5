/**
 * dockerd 20.10's iptables on a host with docker0 and one user-defined network: the rule order as
 * moby/libnetwork's bridge driver writes it (worked from drivers/bridge/setup_ip_tables.go,
 * iptables/iptables.go ProgramChain/Forward/EnsureJumpRule and firewall_linux.go
 * arrangeUserFilterRule; the facts measured on a real 20.10 in the issue: each user bridge's own
 * RETURN, MASQUERADE, FORWARD block and isolation pair above docker0's; the hairpin MASQUERADE per
 * port in both proxy modes).
 */
import { describe, expect, it } from 'vitest';
import { buildDockerHost } from '../../cni/docker/index.js';
import { formatIpRoute } from '../../netmodel/kernel/index.js';
import { dockerHostYaml, ICC_HOST, planOf } from './helpers.js';

function rules(save: string, table: string): string[] {
  const block = save.split(`*${table}\n`)[1]!.split('COMMIT')[0]!;
  return block.split('\n').filter((l) => l.startsWith('-A '));
}

describe('dockerd 20.10 iptables', () => {
  it('proxy on: the layout dockerd writes, user bridge above docker0', () => {
    const st = buildDockerHost(planOf(dockerHostYaml({ proxy: true })));
    const B = st.plan.networks[1]!.bridge;
    const save = st.host.save();
    expect(rules(save, 'filter')).toEqual([
      '-A FORWARD -j DOCKER-USER',
      '-A FORWARD -j DOCKER-ISOLATION-STAGE-1',
      `-A FORWARD -o ${B} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
      `-A FORWARD -o ${B} -j DOCKER`,
      `-A FORWARD -i ${B} ! -o ${B} -j ACCEPT`,
      `-A FORWARD -i ${B} -o ${B} -j ACCEPT`,
      '-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-A FORWARD -o docker0 -j DOCKER',
      '-A FORWARD -i docker0 ! -o docker0 -j ACCEPT',
      '-A FORWARD -i docker0 -o docker0 -j ACCEPT',
      '-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT',
      `-A DOCKER -d 172.18.0.2/32 ! -i ${B} -o ${B} -p udp -m udp --dport 90 -j ACCEPT`,
      `-A DOCKER-ISOLATION-STAGE-1 -i ${B} ! -o ${B} -j DOCKER-ISOLATION-STAGE-2`,
      '-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2',
      '-A DOCKER-ISOLATION-STAGE-1 -j RETURN',
      `-A DOCKER-ISOLATION-STAGE-2 -o ${B} -j DROP`,
      '-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP',
      '-A DOCKER-ISOLATION-STAGE-2 -j RETURN',
      '-A DOCKER-USER -j RETURN',
    ]);
    expect(rules(save, 'nat')).toEqual([
      '-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER',
      '-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER',
      `-A POSTROUTING -s 172.18.0.0/16 ! -o ${B} -j MASQUERADE`,
      '-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE',
      '-A POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE',
      '-A POSTROUTING -s 172.18.0.2/32 -d 172.18.0.2/32 -p udp -m udp --dport 90 -j MASQUERADE',
      `-A DOCKER -i ${B} -j RETURN`,
      '-A DOCKER -i docker0 -j RETURN',
      '-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80',
      `-A DOCKER -d 127.0.0.1/32 ! -i ${B} -p udp -m udp --dport 9000 -j DNAT --to-destination 172.18.0.2:90`,
    ]);
  });

  it('proxy off (hairpin mode): no RETURN, DNAT from every interface, LOCAL-source MASQUERADE per bridge', () => {
    const st = buildDockerHost(planOf(dockerHostYaml({ proxy: false })));
    const B = st.plan.networks[1]!.bridge;
    expect(rules(st.host.save(), 'nat')).toEqual([
      '-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER',
      '-A OUTPUT -m addrtype --dst-type LOCAL -j DOCKER',
      `-A POSTROUTING -o ${B} -m addrtype --src-type LOCAL -j MASQUERADE`,
      `-A POSTROUTING -s 172.18.0.0/16 ! -o ${B} -j MASQUERADE`,
      '-A POSTROUTING -o docker0 -m addrtype --src-type LOCAL -j MASQUERADE',
      '-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE',
      '-A POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE',
      '-A POSTROUTING -s 172.18.0.2/32 -d 172.18.0.2/32 -p udp -m udp --dport 90 -j MASQUERADE',
      '-A DOCKER -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80',
      '-A DOCKER -d 127.0.0.1/32 -p udp -m udp --dport 9000 -j DNAT --to-destination 172.18.0.2:90',
    ]);
    expect(st.routeLocalnet).toEqual(['docker0', B]);
    expect(st.host.link(st.plan.containers[0]!.veth)?.hairpin).toBe(true);
  });

  it('icc=false and --internal: setIcc appends DROP; setupInternalNetworkRules, no NAT or isolation pair', () => {
    // drivers/bridge/setup_ip_tables.go (20.10): setIcc with icc off deletes the ACCEPT and appends
    // `-i BR -o BR -j DROP`; an internal network gets only the two STAGE-1 DROPs (inserted, so the
    // outgoing one ends on top), setIcc and the FORWARD jump; isolateNetwork returns early for it.
    const st = buildDockerHost(planOf(ICC_HOST));
    const [, S, Q] = st.plan.networks.map((n) => n.bridge);
    const save = st.host.save();
    expect(rules(save, 'filter')).toEqual([
      '-A FORWARD -j DOCKER-USER',
      '-A FORWARD -j DOCKER-ISOLATION-STAGE-1',
      `-A FORWARD -o ${Q} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
      `-A FORWARD -o ${Q} -j DOCKER`,
      `-A FORWARD -i ${Q} ! -o ${Q} -j ACCEPT`,
      `-A FORWARD -i ${S} -o ${S} -j ACCEPT`,
      '-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-A FORWARD -o docker0 -j DOCKER',
      '-A FORWARD -i docker0 ! -o docker0 -j ACCEPT',
      '-A FORWARD -i docker0 -o docker0 -j DROP',
      `-A FORWARD -i ${Q} -o ${Q} -j DROP`,
      '-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT',
      `-A DOCKER-ISOLATION-STAGE-1 -i ${Q} ! -o ${Q} -j DOCKER-ISOLATION-STAGE-2`,
      `-A DOCKER-ISOLATION-STAGE-1 ! -s 172.18.0.0/16 -o ${S} -j DROP`,
      `-A DOCKER-ISOLATION-STAGE-1 ! -d 172.18.0.0/16 -i ${S} -j DROP`,
      '-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2',
      '-A DOCKER-ISOLATION-STAGE-1 -j RETURN',
      `-A DOCKER-ISOLATION-STAGE-2 -o ${Q} -j DROP`,
      '-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP',
      '-A DOCKER-ISOLATION-STAGE-2 -j RETURN',
      '-A DOCKER-USER -j RETURN',
    ]);
    expect(rules(save, 'nat').filter((r) => r.includes(S!))).toEqual([]);
    // The internal network's container has no default route (no gateway for its sandbox).
    expect(formatIpRoute(st.container('vault')!)).toBe(
      '172.18.0.0/16 dev eth0 proto kernel scope link src 172.18.0.2 \n',
    );
  });

  it('engine 28 has its own layout (test/docker/engine28.test.ts): DOCKER-FORWARD, raw DROPs', () => {
    const st = buildDockerHost(planOf(dockerHostYaml({ proxy: true, version: '28' })));
    expect(rules(st.host.save(), 'filter')).toContain('-A FORWARD -j DOCKER-FORWARD');
    expect(rules(st.host.save(), 'raw')).toContain('-A PREROUTING -d 172.17.0.2/32 ! -i docker0 -j DROP');
  });
});

describe('sctp publishing (20.10)', () => {
  it('-p 3868:3868/sctp: the DNAT, ACCEPT and hairpin rules with -m sctp, and the mangle CHECKSUM fill', () => {
    // iptables.go ChainInfo.Forward (20.10): for sctp it appends
    // `-t mangle -A POSTROUTING -p sctp --sport PORT -j CHECKSUM --checksum-fill`.
    const st = buildDockerHost(
      planOf(
        dockerHostYaml({ proxy: true, extra: '    - {name: diam, image: x, ports: ["3868:3868/sctp"]}\n' }),
      ),
    );
    const save = st.host.save();
    expect(rules(save, 'mangle')).toEqual([
      '-A POSTROUTING -p sctp -m sctp --sport 3868 -j CHECKSUM --checksum-fill',
    ]);
    expect(rules(save, 'nat')).toContain(
      '-A DOCKER ! -i docker0 -p sctp -m sctp --dport 3868 -j DNAT --to-destination 172.17.0.3:3868',
    );
    expect(rules(save, 'filter')).toContain(
      '-A DOCKER -d 172.17.0.3/32 ! -i docker0 -o docker0 -p sctp -m sctp --dport 3868 -j ACCEPT',
    );
  });
});
