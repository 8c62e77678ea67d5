/**
 * The rules dockerd writes for one published port (`-p`), the same in the pre-28 and the engine-28
 * layouts; only the chains and the order they go in differ (iptables.ts, iptables28.ts):
 *   nat DOCKER:        DNAT from the host address and port to the container (not from its own
 *                      bridge when the userland proxy is on: docker-proxy carries those)
 *   filter DOCKER:     ACCEPT to the container's port from outside its bridge
 *   nat POSTROUTING:   MASQUERADE of the container reaching itself through its published port
 */
import type { PortBinding } from '../../netmodel/docker/index.js';

export interface PortRuleArgs {
  readonly dnat: readonly string[];
  readonly accept: readonly string[];
  readonly hairpin: readonly string[];
}

export function publishedPortRules(b: PortBinding, ip: string, bridge: string, proxy: boolean): PortRuleArgs {
  const port = String(b.containerPort);
  const dnat = [
    '-p',
    b.proto,
    '-d',
    b.hostIP === '0.0.0.0' ? '0/0' : b.hostIP,
    '--dport',
    String(b.hostPort),
    '-j',
    'DNAT',
    '--to-destination',
    `${ip}:${port}`,
  ];
  if (proxy) dnat.push('!', '-i', bridge);
  return {
    dnat,
    accept: ['!', '-i', bridge, '-o', bridge, '-p', b.proto, '-d', ip, '--dport', port, '-j', 'ACCEPT'],
    hairpin: ['-p', b.proto, '-s', ip, '-d', ip, '--dport', port, '-j', 'MASQUERADE'],
  };
}
