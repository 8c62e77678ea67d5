/**
 * The ipsets of kube-proxy's ipvs proxier (pkg/proxy/ipvs/ipset.go and proxier.go's ipsetInfo, ~v1.31):
 * their names, types and comments, and how one is created (`ipset create NAME TYPE family inet hashsize
 * 1024 maxelem 65536 -exist`, bitmap:port with `range 0-65535`; pkg/proxy/ipvs/ipset/ipset.go). The
 * comment is not stored in the set: kube-proxy puts it in the iptables rule that matches the set.
 * IPv6 sets are named `KUBE-6-...`, cut to ipset's 31 characters.
 */
import type { Family } from '../../netmodel/addr.js';
import type { IpSetType } from '../../netmodel/netfilter/index.js';

export interface IpvsSetInfo {
  /** The IPv4 name (also the key kpath uses for the set in either family). */
  readonly name: string;
  readonly type: IpSetType;
  readonly comment: string;
}

/** Every set, in proxier.go's ipsetInfo order. */
export const IPVS_SETS: readonly IpvsSetInfo[] = [
  {
    name: 'KUBE-LOOP-BACK',
    type: 'hash:ip,port,ip',
    comment: 'Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose',
  },
  {
    name: 'KUBE-CLUSTER-IP',
    type: 'hash:ip,port',
    comment: 'Kubernetes service cluster ip + port for masquerade purpose',
  },
  {
    name: 'KUBE-EXTERNAL-IP',
    type: 'hash:ip,port',
    comment: 'Kubernetes service external ip + port for masquerade and filter purpose',
  },
  {
    name: 'KUBE-EXTERNAL-IP-LOCAL',
    type: 'hash:ip,port',
    comment: 'Kubernetes service external ip + port with externalTrafficPolicy=local',
  },
  { name: 'KUBE-LOAD-BALANCER', type: 'hash:ip,port', comment: 'Kubernetes service lb portal' },
  {
    name: 'KUBE-LOAD-BALANCER-FW',
    type: 'hash:ip,port',
    comment: 'Kubernetes service load balancer ip + port for load balancer with sourceRange',
  },
  {
    name: 'KUBE-LOAD-BALANCER-LOCAL',
    type: 'hash:ip,port',
    comment: 'Kubernetes service load balancer ip + port with externalTrafficPolicy=local',
  },
  {
    name: 'KUBE-LOAD-BALANCER-SOURCE-IP',
    type: 'hash:ip,port,ip',
    comment: 'Kubernetes service load balancer ip + port + source IP for packet filter purpose',
  },
  {
    name: 'KUBE-LOAD-BALANCER-SOURCE-CIDR',
    type: 'hash:ip,port,net',
    comment: 'Kubernetes service load balancer ip + port + source cidr for packet filter purpose',
  },
  {
    name: 'KUBE-NODE-PORT-TCP',
    type: 'bitmap:port',
    comment: 'Kubernetes nodeport TCP port for masquerade purpose',
  },
  {
    name: 'KUBE-NODE-PORT-LOCAL-TCP',
    type: 'bitmap:port',
    comment: 'Kubernetes nodeport TCP port with externalTrafficPolicy=local',
  },
  {
    name: 'KUBE-NODE-PORT-UDP',
    type: 'bitmap:port',
    comment: 'Kubernetes nodeport UDP port for masquerade purpose',
  },
  {
    name: 'KUBE-NODE-PORT-LOCAL-UDP',
    type: 'bitmap:port',
    comment: 'Kubernetes nodeport UDP port with externalTrafficPolicy=local',
  },
  {
    name: 'KUBE-NODE-PORT-SCTP-HASH',
    type: 'hash:ip,port',
    comment: "Kubernetes nodeport SCTP port for masquerade purpose with type 'hash ip:port'",
  },
  {
    name: 'KUBE-NODE-PORT-LOCAL-SCTP-HASH',
    type: 'hash:ip,port',
    comment: "Kubernetes nodeport SCTP port with externalTrafficPolicy=local with type 'hash ip:port'",
  },
  {
    name: 'KUBE-HEALTH-CHECK-NODE-PORT',
    type: 'bitmap:port',
    comment: 'Kubernetes health check node port',
  },
  { name: 'KUBE-IPVS-IPS', type: 'hash:ip', comment: 'Addresses on the ipvs interface' },
];

const BY_NAME = new Map(IPVS_SETS.map((s) => [s.name, s]));

export function setInfo(name: string): IpvsSetInfo {
  const s = BY_NAME.get(name);
  if (!s) throw new Error(`no ipvs-mode ipset ${name}`);
  return s;
}

/** The set's name in a family: `KUBE-` becomes `KUBE-6-` for IPv6, then cut to 31 characters. */
export function setNameIn(name: string, family: Family): string {
  if (family === 4 || !name.startsWith('KUBE-')) return name;
  return `KUBE-6-${name.slice('KUBE-'.length)}`.slice(0, 31);
}

/** kube-proxy's `ipset create` line (ignoreExistErr: `-exist`), as ipset restore input. */
export function createLine(info: IpvsSetInfo, family: Family): string {
  const name = setNameIn(info.name, family);
  if (info.type === 'bitmap:port') return `create ${name} bitmap:port range 0-65535 -exist`;
  return `create ${name} ${info.type} family ${family === 4 ? 'inet' : 'inet6'} hashsize 1024 maxelem 65536 -exist`;
}
