/** What each chain means, in words, for people who have never read iptables rules. */

const FIXED: Record<string, string> = {
  PREROUTING: 'built-in hook: every packet arriving on an interface, before routing',
  INPUT: 'built-in hook: packets addressed to this node',
  FORWARD: 'built-in hook: packets this node routes onwards',
  OUTPUT: 'built-in hook: packets generated on this node',
  POSTROUTING: 'built-in hook: every packet leaving, after routing',
  'KUBE-SERVICES': "kube-proxy: one rule per service IP and port; sends the packet to that service's chain",
  'KUBE-NODEPORTS': 'kube-proxy: one rule per NodePort; for packets addressed to this node',
  'KUBE-MARK-MASQ': 'kube-proxy: sets mark 0x4000 so that KUBE-POSTROUTING masquerades the packet',
  'KUBE-POSTROUTING':
    "kube-proxy: masquerades (SNATs to the outgoing interface's address) packets marked 0x4000",
  'KUBE-FORWARD':
    'kube-proxy: accepts forwarded service traffic (marked, or part of a known connection); drops conntrack INVALID',
  'KUBE-EXTERNAL-SERVICES':
    'kube-proxy: rejects/drops external traffic to services with no (local) endpoints',
  'KUBE-PROXY-FIREWALL':
    'kube-proxy: drops load-balancer traffic that loadBalancerSourceRanges did not allow',
  'KUBE-FIREWALL':
    'kubelet/kube-proxy: drops martian traffic to 127.0.0.0/8 from outside (route_localnet safety)',
  'KUBE-PROXY-CANARY': 'kube-proxy: empty canary; if it disappears, kube-proxy resyncs everything',
  'KUBE-KUBELET-CANARY': "kubelet's canary chain",
};

const PREFIX: [string, string][] = [
  [
    'KUBE-SVC-',
    'kube-proxy: a service port (externalTrafficPolicy/internalTrafficPolicy Cluster): picks an endpoint at random, or the one session affinity remembers',
  ],
  [
    'KUBE-SVL-',
    'kube-proxy: a service port with a Local traffic policy: picks among endpoints on this node only',
  ],
  [
    'KUBE-EXT-',
    'kube-proxy: external traffic to a service (NodePort, external IP, load balancer): masquerade decision, then the service chain',
  ],
  ['KUBE-FW-', 'kube-proxy: loadBalancerSourceRanges allow-list for a load balancer IP'],
  ['KUBE-SEP-', 'kube-proxy: one endpoint: DNAT to it (and mark a pod reaching itself for masquerade)'],
  ['KUBE-XLB-', 'kube-proxy (before 1.24): externalTrafficPolicy Local dispatch'],
  ['DOCKER', 'Docker: published ports and container isolation'],
  ['FLANNEL', 'flannel: pod network forwarding and masquerade'],
  ['CNI-', 'a CNI plugin chain (portmap, bridge masquerade)'],
];

export function chainMeaning(chain: string): string | undefined {
  const fixed = FIXED[chain];
  if (fixed) return fixed;
  for (const [p, m] of PREFIX) if (chain.startsWith(p)) return m;
  return undefined;
}
