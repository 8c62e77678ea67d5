/**
 * flanneld's iptables rules (flannel-io/flannel pkg/trafficmngr/iptables, ipMasq on), as an
 * iptables-restore --noflush payload: masquerade pods leaving the cluster network, and accept
 * forwarding to and from it; the jumps are inserted at the top of POSTROUTING and FORWARD
 * (MasqRules / ForwardRules in pkg/trafficmngr/iptables/iptables.go, with --random-fully as
 * iptables supports it). The source's order differs from older write-ups: the pod-to-outside
 * MASQUERADE comes before the `! -s Network -d nodeSubnet` RETURN.
 */
import type { Prefix } from '../../netmodel/addr.js';

export function flannelRestore(network: Prefix, nodeSubnet: Prefix): string {
  const N = network.text;
  const S = nodeSubnet.text;
  return [
    '*nat',
    ':FLANNEL-POSTRTG - [0:0]',
    '-I POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG',
    '-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN',
    `-A FLANNEL-POSTRTG -s ${N} -d ${N} -m comment --comment "flanneld masq" -j RETURN`,
    `-A FLANNEL-POSTRTG -s ${N} ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully`,
    `-A FLANNEL-POSTRTG ! -s ${N} -d ${S} -m comment --comment "flanneld masq" -j RETURN`,
    `-A FLANNEL-POSTRTG ! -s ${N} -d ${N} -m comment --comment "flanneld masq" -j MASQUERADE --random-fully`,
    'COMMIT',
    '*filter',
    ':FLANNEL-FWD - [0:0]',
    '-I FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD',
    `-A FLANNEL-FWD -s ${N} -m comment --comment "flanneld forward" -j ACCEPT`,
    `-A FLANNEL-FWD -d ${N} -m comment --comment "flanneld forward" -j ACCEPT`,
    'COMMIT',
    '',
  ].join('\n');
}
