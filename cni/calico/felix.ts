/**
 * felix's nat table where it matters for a trace: natOutgoing. Pod traffic leaving the IP pools is
 * masqueraded to the node's address; traffic between pools (pod to pod) is left alone. The rules and
 * their `cali:` comments are those felix writes (its rule hashes are fixed for these rules; as seen in
 * iptables-save on Calico nodes), with the empty floating-IP chains they pass through:
 *
 *   PREROUTING  -m comment --comment "cali:6gwbT8clXdHdC1b1" -j cali-PREROUTING     (inserted first)
 *   OUTPUT      -m comment --comment "cali:tVnHkvAo15HuiPy0" -j cali-OUTPUT
 *   POSTROUTING -m comment --comment "cali:O3lYWMrLQYEMJtB5" -j cali-POSTROUTING
 *   cali-POSTROUTING -> cali-fip-snat, cali-nat-outgoing,
 *                       (vxlan) -o vxlan.calico ... --limit-iface-out ... -j MASQUERADE --random-fully
 *   cali-nat-outgoing -m set --match-set cali40masq-ipam-pools src
 *                     -m set ! --match-set cali40all-ipam-pools dst -j MASQUERADE --random-fully
 *
 * The ipsets hold the pools: kpath's one pool is the cluster's pod CIDR, with natOutgoing on (the
 * default pool's setting). The vxlan rule's `--limit-iface-out` addrtype option is left out: kpath's
 * addrtype match does not take it, and it only masquerades host-sourced traffic into the tunnel.
 * Felix's filter-table chains (policy, cali-FORWARD) are not modelled.
 */
import type { ClusterSnapshot } from '../../netmodel/cluster/index.js';
import type { KernelNode } from '../../netmodel/kernel/index.js';
import { applyIpsetRestore } from '../../netmodel/netfilter/index.js';

export const MASQ_POOLS_SET = 'cali40masq-ipam-pools';
export const ALL_POOLS_SET = 'cali40all-ipam-pools';

export function felixNatRestore(): string {
  return [
    '*nat',
    ':cali-PREROUTING - [0:0]',
    ':cali-OUTPUT - [0:0]',
    ':cali-POSTROUTING - [0:0]',
    ':cali-fip-dnat - [0:0]',
    ':cali-fip-snat - [0:0]',
    ':cali-nat-outgoing - [0:0]',
    '-I PREROUTING -m comment --comment "cali:6gwbT8clXdHdC1b1" -j cali-PREROUTING',
    '-I OUTPUT -m comment --comment "cali:tVnHkvAo15HuiPy0" -j cali-OUTPUT',
    '-I POSTROUTING -m comment --comment "cali:O3lYWMrLQYEMJtB5" -j cali-POSTROUTING',
    '-A cali-OUTPUT -m comment --comment "cali:GBTAv2p5CwevEyJm" -j cali-fip-dnat',
    '-A cali-POSTROUTING -m comment --comment "cali:Z-c7XtVd2Bq7s_hA" -j cali-fip-snat',
    '-A cali-POSTROUTING -m comment --comment "cali:nYKhEzDlr11Jccal" -j cali-nat-outgoing',
    '-A cali-PREROUTING -m comment --comment "cali:r6XmIziWUJsdOK6Z" -j cali-fip-dnat',
    `-A cali-nat-outgoing -m comment --comment "cali:flqWnvo8yq4ULQLa" -m set --match-set ${MASQ_POOLS_SET} src -m set ! --match-set ${ALL_POOLS_SET} dst -j MASQUERADE --random-fully`,
    'COMMIT',
    '',
  ].join('\n');
}

/** natOutgoing on a Calico node: the pool ipsets, then the chains (once per node). */
export function addFelixNat(snap: ClusterSnapshot, k: KernelNode): void {
  const pools = snap.config.podCIDRs.filter((c) => c.ip.family === 4).map((c) => c.text);
  if (pools.length === 0 || k.rules(4).tables.get('nat')?.chains.has('cali-nat-outgoing')) return;
  const sets = [MASQ_POOLS_SET, ALL_POOLS_SET].flatMap((name) => [
    `create ${name} hash:net family inet hashsize 1024 maxelem 1048576`,
    ...pools.map((p) => `add ${name} ${p}`),
  ]);
  applyIpsetRestore(k.nf.sets, `${sets.join('\n')}\n`);
  k.restore(felixNatRestore(), { noflush: true });
}
