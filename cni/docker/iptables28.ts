/**
 * The iptables layout of Docker Engine 28 (moby v28.5.2: libnetwork/drivers/bridge/internal/iptabler,
 * documented by integration/network/bridge/iptablesdoc/generated/*.md, which moby's tests generate
 * from a running daemon): the filter FORWARD chain hands everything to DOCKER-FORWARD, which calls
 * DOCKER-CT (RELATED,ESTABLISHED), the isolation chains and DOCKER-BRIDGE (-o BR -> DOCKER), then
 * accepts what leaves each bridge; the DOCKER chain ends in one DROP per bridge, under the per-port
 * ACCEPTs inserted at its head; the raw table drops packets sent to a container's address from
 * anywhere but its bridge (filterDirectAccess) and remote packets to ports published on loopback.
 *
 *   daemon start   -N DOCKER, DOCKER-BRIDGE, DOCKER-CT, DOCKER-FORWARD, DOCKER-ISOLATION-STAGE-1/2,
 *                  DOCKER-USER (filter; no RETURN rules any more), -N DOCKER (nat);
 *                  -A FORWARD -j DOCKER-USER, -A FORWARD -j DOCKER-FORWARD, the DOCKER-FORWARD
 *                  jumps; `-P FORWARD DROP` when dockerd had to turn ip_forward on
 *   each network   nat: -I POSTROUTING -s SUBNET ! -o BR -j MASQUERADE (proxy off: and above it
 *                  -o BR --src-type LOCAL MASQUERADE), proxy on: -I DOCKER -i BR -j RETURN;
 *                  filter: -A DOCKER-CT, -A DOCKER-BRIDGE, -A DOCKER ! -i BR -o BR -j DROP,
 *                  -A DOCKER-FORWARD -i BR -j ACCEPT (icc off: -i BR -o BR -j DROP and
 *                  -i BR ! -o BR -j ACCEPT), -A STAGE-1 -i BR ! -o BR -j STAGE-2, -I STAGE-2 -o BR -j DROP
 *   --internal     -I STAGE-1 -i BR ! -d SUBNET -j DROP, -I STAGE-1 -o BR ! -s SUBNET -j DROP,
 *                  -A DOCKER-FORWARD -i BR -o BR -j ACCEPT|DROP (icc); nothing else
 *   each container raw: -A PREROUTING -d IP ! -i BR -j DROP (not on internal networks)
 *   each -p        nat: -A DOCKER DNAT (as 20.10), proxy off: -A POSTROUTING hairpin MASQUERADE;
 *                  filter: -I DOCKER ! -i BR -o BR ... -j ACCEPT; a loopback host IP: raw
 *                  -A PREROUTING -p P -d 127.x --dport H ! -i lo -j DROP (filterPortMappedOnLoopback);
 *                  sctp's CHECKSUM rule only with DOCKER_IPTABLES_SCTP_CHECKSUM=1 (not modelled)
 *
 * The commands are one order that yields that state (moby's own order differs in places that do not
 * change the result, e.g. DOCKER-USER's jump is re-inserted by the controller).
 */
import type { DockerPlan } from '../../netmodel/docker/index.js';
import { publishedPortRules } from './port-rules.js';

const FWD = 'DOCKER-FORWARD';
const CT = 'DOCKER-CT';
const BRIDGE = 'DOCKER-BRIDGE';
const ISO1 = 'DOCKER-ISOLATION-STAGE-1';
const ISO2 = 'DOCKER-ISOLATION-STAGE-2';

export function dockerd28Commands(plan: DockerPlan): string[][] {
  const proxy = plan.host.engine.userlandProxy;
  const c: string[][] = [];
  const f = (...a: string[]) => c.push(['-t', 'filter', ...a]);
  const n = (...a: string[]) => c.push(['-t', 'nat', ...a]);
  const r = (...a: string[]) => c.push(['-t', 'raw', ...a]);
  for (const ch of ['DOCKER', BRIDGE, CT, FWD, ISO1, ISO2, 'DOCKER-USER']) f('-N', ch);
  n('-N', 'DOCKER');
  if (!plan.host.ipForward) f('-P', 'FORWARD', 'DROP');
  f('-A', 'FORWARD', '-j', 'DOCKER-USER');
  f('-A', 'FORWARD', '-j', FWD);
  f('-A', FWD, '-j', CT);
  f('-A', FWD, '-j', ISO1);
  f('-A', FWD, '-j', BRIDGE);
  n('-A', 'PREROUTING', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'DOCKER');
  if (proxy)
    n('-A', 'OUTPUT', '!', '-d', '127.0.0.0/8', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'DOCKER');
  else n('-A', 'OUTPUT', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'DOCKER');
  for (const net of plan.networks) {
    const br = net.bridge;
    const sub = net.subnet.text;
    if (net.internal) {
      f('-I', ISO1, '-i', br, '!', '-d', sub, '-j', 'DROP');
      f('-I', ISO1, '-o', br, '!', '-s', sub, '-j', 'DROP');
      f('-A', FWD, '-i', br, '-o', br, '-j', net.icc ? 'ACCEPT' : 'DROP');
      continue;
    }
    n('-I', 'POSTROUTING', '-s', sub, '!', '-o', br, '-j', 'MASQUERADE');
    if (proxy) n('-I', 'DOCKER', '-i', br, '-j', 'RETURN');
    else n('-I', 'POSTROUTING', '-o', br, '-m', 'addrtype', '--src-type', 'LOCAL', '-j', 'MASQUERADE');
    f('-A', CT, '-o', br, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT');
    f('-A', BRIDGE, '-o', br, '-j', 'DOCKER');
    f('-A', 'DOCKER', '!', '-i', br, '-o', br, '-j', 'DROP');
    if (net.icc) f('-A', FWD, '-i', br, '-j', 'ACCEPT');
    else {
      f('-A', FWD, '-i', br, '-o', br, '-j', 'DROP');
      f('-A', FWD, '-i', br, '!', '-o', br, '-j', 'ACCEPT');
    }
    f('-A', ISO1, '-i', br, '!', '-o', br, '-j', ISO2);
    f('-I', ISO2, '-o', br, '-j', 'DROP');
  }
  for (const ctr of plan.containers) {
    const br = ctr.network.bridge;
    if (ctr.network.internal) continue;
    r('-A', 'PREROUTING', '-d', ctr.ip.text, '!', '-i', br, '-j', 'DROP');
    for (const b of ctr.ports) {
      const rules = publishedPortRules(b, ctr.ip.text, br, proxy);
      n('-A', 'DOCKER', ...rules.dnat);
      if (!proxy) n('-A', 'POSTROUTING', ...rules.hairpin);
      f('-I', 'DOCKER', ...rules.accept);
      if (b.hostIP.startsWith('127.'))
        r(
          '-A',
          'PREROUTING',
          '-p',
          b.proto,
          '-d',
          b.hostIP,
          '--dport',
          String(b.hostPort),
          '!',
          '-i',
          'lo',
          '-j',
          'DROP',
        );
    }
  }
  return c;
}
