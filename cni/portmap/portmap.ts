/**
 * The portmap plugin's iptables backend (containernetworking/plugins plugins/meta/portmap,
 * portmap_iptables.go), as the operations it makes: hostPort mappings become DNAT rules, with the
 * hairpin and localhost connections marked for masquerade.
 *
 *   nat CNI-HOSTPORT-SETMARK  -m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark 0x2000/0x2000
 *   nat CNI-HOSTPORT-MASQ     -m mark --mark 0x2000/0x2000 -j MASQUERADE
 *       POSTROUTING (inserted first) -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ
 *   nat CNI-HOSTPORT-DNAT     (PREROUTING and OUTPUT: -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT)
 *       -m comment --comment "dnat name: \"NET\" id: \"CID\"" -m multiport -p PROTO --destination-ports P,... -j CNI-DN-xxx
 *   nat CNI-DN-xxx            per mapping: -p PROTO --dport HOSTPORT [-d HOSTIP] -s CONTAINER/PREFIX -j CNI-HOSTPORT-SETMARK
 *                                          -p PROTO --dport HOSTPORT [-d HOSTIP] -s 127.0.0.1 -j CNI-HOSTPORT-SETMARK
 *                                          -p PROTO --dport HOSTPORT [-d HOSTIP] -j DNAT --to-destination IP:PORT
 *
 * Defaults as the plugin's: snat true, markMasqBit 13 (Kubernetes uses 14 and 15), masqAll false.
 * `-s` is the container's address with its prefix as the previous result gives it (10.244.1.2/24;
 * iptables stores 10.244.1.0/24). Multiport takes 15 ports per rule; protocols in sorted order.
 */
import { cniChainName, type IptOp } from './chains.js';

export const HOSTPORT_DNAT = 'CNI-HOSTPORT-DNAT';
export const HOSTPORT_SETMARK = 'CNI-HOSTPORT-SETMARK';
export const HOSTPORT_MASQ = 'CNI-HOSTPORT-MASQ';
export const PORTMAP_MARK_BIT = 13;

export interface PortMapping {
  readonly hostPort: number;
  readonly containerPort: number;
  /** tcp, udp or sctp, lower case as the runtime passes it. */
  readonly protocol: string;
  readonly hostIP?: string;
}

export interface PortmapConf {
  /** The network name (the conflist's `name`). */
  readonly network: string;
  readonly containerId: string;
  /** The container's IPv4 address with prefix, from the previous result (`10.244.1.2/24`). */
  readonly containerNet: string;
  readonly mappings: readonly PortMapping[];
  readonly snat?: boolean;
  readonly masqAll?: boolean;
  readonly markMasqBit?: number;
}

/** The per-container chain: `CNI-DN-` + hash. */
export function portmapChain(network: string, containerId: string): string {
  return cniChainName(network, containerId, 'DN-');
}

function hexMark(bit: number): string {
  const v = (1 << bit) >>> 0;
  return `0x${v.toString(16)}/0x${v.toString(16)}`;
}

/** The comment of the entry rules (trimComment: at most 255 characters). */
function dnatComment(network: string, containerId: string): string {
  const c = `dnat name: "${network}" id: "${containerId}"`;
  return c.length <= 255 ? c : `${c.slice(0, 253)}...`;
}

/** ADD (forwardPorts) for the container's IPv4 address: the operations in the plugin's order. */
export function portmapAdd(conf: PortmapConf): IptOp[] {
  const ops: IptOp[] = [];
  const snat = conf.snat ?? true;
  const mark = hexMark(conf.markMasqBit ?? PORTMAP_MARK_BIT);
  if (conf.mappings.length === 0) return ops;
  if (snat) {
    ops.push(
      { op: 'ensure-chain', table: 'nat', chain: HOSTPORT_SETMARK },
      {
        op: 'add-unique',
        table: 'nat',
        chain: HOSTPORT_SETMARK,
        prepend: false,
        rule: [
          '-m',
          'comment',
          '--comment',
          'CNI portfwd masquerade mark',
          '-j',
          'MARK',
          '--set-xmark',
          mark,
        ],
      },
      { op: 'ensure-chain', table: 'nat', chain: HOSTPORT_MASQ },
      {
        op: 'add-unique',
        table: 'nat',
        chain: HOSTPORT_MASQ,
        prepend: false,
        rule: ['-m', 'mark', '--mark', mark, '-j', 'MASQUERADE'],
      },
      {
        op: 'add-unique',
        table: 'nat',
        chain: 'POSTROUTING',
        prepend: true,
        rule: ['-m', 'comment', '--comment', 'CNI portfwd requiring masquerade', '-j', HOSTPORT_MASQ],
      },
    );
  }
  ops.push({ op: 'ensure-chain', table: 'nat', chain: HOSTPORT_DNAT });
  for (const entry of ['PREROUTING', 'OUTPUT'])
    ops.push({
      op: 'add-unique',
      table: 'nat',
      chain: entry,
      prepend: false,
      rule: ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', HOSTPORT_DNAT],
    });
  const dn = portmapChain(conf.network, conf.containerId);
  const ip = conf.containerNet.split('/')[0]!;
  ops.push({ op: 'ensure-chain', table: 'nat', chain: dn });
  // The chain's rules first (chain.setup), then its entry rules in CNI-HOSTPORT-DNAT.
  for (const e of conf.mappings) {
    const hostIp = e.hostIP && e.hostIP !== '0.0.0.0' && !e.hostIP.includes(':') ? e.hostIP : undefined;
    if (e.hostIP?.includes(':')) continue; // an IPv6 host address: not for the IPv4 address
    const base = ['-p', e.protocol, '--dport', String(e.hostPort), ...(hostIp ? ['-d', hostIp] : [])];
    if (snat) {
      const src = conf.masqAll ? '0.0.0.0/0' : conf.containerNet;
      ops.push({
        op: 'add-unique',
        table: 'nat',
        chain: dn,
        prepend: false,
        rule: [...base, '-s', src, '-j', HOSTPORT_SETMARK],
      });
      if (!conf.masqAll)
        ops.push({
          op: 'add-unique',
          table: 'nat',
          chain: dn,
          prepend: false,
          rule: [...base, '-s', '127.0.0.1', '-j', HOSTPORT_SETMARK],
        });
    }
    ops.push({
      op: 'add-unique',
      table: 'nat',
      chain: dn,
      prepend: false,
      rule: [...base, '-j', 'DNAT', '--to-destination', `${ip}:${e.containerPort}`],
    });
  }
  for (const rule of jumpRules(conf, dn))
    ops.push({ op: 'add-unique', table: 'nat', chain: HOSTPORT_DNAT, prepend: false, rule });
  return ops;
}

/**
 * CNI-HOSTPORT-DNAT's jumps to the container's chain: per protocol (sorted), the host ports in groups
 * of 15 (multiport's limit), with the container's comment.
 */
function jumpRules(conf: Pick<PortmapConf, 'network' | 'containerId' | 'mappings'>, dn: string): string[][] {
  const byProto = new Map<string, number[]>();
  for (const e of conf.mappings) byProto.set(e.protocol, [...(byProto.get(e.protocol) ?? []), e.hostPort]);
  const comment = dnatComment(conf.network, conf.containerId);
  const rules: string[][] = [];
  for (const proto of [...byProto.keys()].sort()) {
    const ports = byProto.get(proto)!;
    for (let i = 0; i < ports.length; i += 15)
      rules.push([
        '-m',
        'comment',
        '--comment',
        comment,
        '-m',
        'multiport',
        '-p',
        proto,
        '--destination-ports',
        ports.slice(i, i + 15).join(','),
        '-j',
        dn,
      ]);
  }
  return rules;
}

/** DEL (unforwardPorts): the container's chain and the rules jumping to it; shared chains stay. */
export function portmapDel(conf: Omit<PortmapConf, 'containerNet'>): IptOp[] {
  const dn = portmapChain(conf.network, conf.containerId);
  const ops: IptOp[] = jumpRules(conf, dn).map((rule) => ({
    op: 'delete',
    table: 'nat',
    chain: HOSTPORT_DNAT,
    rule,
  }));
  ops.push({ op: 'delete-chain', table: 'nat', chain: dn });
  return ops;
}
