/**
 * The bridge plugin's `ipMasq` (containernetworking/plugins pkg/ip/ipmasq_iptables_linux.go
 * SetupIPMasq, with the chain and comment from pkg/utils): per container address, a chain
 * `CNI-` + sha512(network + containerID) (28 characters) that accepts traffic to the container's own
 * subnet and masquerades the rest except multicast, jumped to from POSTROUTING for the address:
 *
 *   nat CNI-xxxx   -d 10.244.1.2/24 -j ACCEPT -m comment --comment "name: \"cbr0\" id: \"c1\""
 *                  ! -d 224.0.0.0/4 -j MASQUERADE -m comment --comment "name: \"cbr0\" id: \"c1\""
 *       POSTROUTING -s 10.244.1.2 -j CNI-xxxx -m comment --comment "name: \"cbr0\" id: \"c1\""
 *
 * Teardown deletes the POSTROUTING rule, then flushes and deletes the chain.
 */
import { cniChainName, type IptOp } from './chains.js';

export function ipMasqChain(network: string, containerId: string): string {
  return cniChainName(network, containerId);
}

/** utils.FormatComment: Go's %q of each (plain names need no escapes beyond the quotes). */
function comment(network: string, containerId: string): string {
  return `name: ${JSON.stringify(network)} id: ${JSON.stringify(containerId)}`;
}

/** ADD: `containerNets` are the container's addresses with prefix (`10.244.1.2/24`), IPv4 only here. */
export function ipMasqAdd(network: string, containerId: string, containerNets: readonly string[]): IptOp[] {
  const chain = ipMasqChain(network, containerId);
  const c = ['-m', 'comment', '--comment', comment(network, containerId)];
  const ops: IptOp[] = [];
  for (const net of containerNets) {
    if (net.includes(':')) continue;
    ops.push(
      { op: 'ensure-chain', table: 'nat', chain },
      { op: 'add-unique', table: 'nat', chain, prepend: false, rule: ['-d', net, '-j', 'ACCEPT', ...c] },
      {
        op: 'add-unique',
        table: 'nat',
        chain,
        prepend: false,
        rule: ['!', '-d', '224.0.0.0/4', '-j', 'MASQUERADE', ...c],
      },
      {
        op: 'add-unique',
        table: 'nat',
        chain: 'POSTROUTING',
        prepend: false,
        rule: ['-s', net.split('/')[0]!, '-j', chain, ...c],
      },
    );
  }
  return ops;
}

export function ipMasqDel(network: string, containerId: string, containerNets: readonly string[]): IptOp[] {
  const chain = ipMasqChain(network, containerId);
  const c = ['-m', 'comment', '--comment', comment(network, containerId)];
  const ops: IptOp[] = [];
  for (const net of containerNets) {
    if (net.includes(':')) continue;
    ops.push(
      {
        op: 'delete',
        table: 'nat',
        chain: 'POSTROUTING',
        rule: ['-s', net.split('/')[0]!, '-j', chain, ...c],
      },
      { op: 'delete-chain', table: 'nat', chain },
    );
  }
  return ops;
}
