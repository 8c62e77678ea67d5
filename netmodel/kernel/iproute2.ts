/**
 * What iproute2 prints in an emulated namespace: `ip addr`, `ip link`, `ip route`, `ip neigh` and
 * `bridge fdb`, in the formats iproute2 6.x prints on Linux 6.x (compared line by line with real
 * namespaces built the same way, test/podnet/iproute2.test.ts).
 *
 * Modelled, since the kernel does it for every up device with IPv6 on: the fe80::/64 link-local
 * address from the MAC (EUI-64, addr_gen_mode 0) and the all-nodes / all-hosts / solicited-node
 * multicast addresses `bridge fdb` lists as `self permanent` (a bridge adds the multicast-router
 * ones). IPv4 addresses are printed with their broadcast, as the CNI plugins add them (netlink
 * computes it for prefixes shorter than /31). A veth whose peer is in another namespace is
 * `NAME@ifN` with `link-netnsid`: 0 from a pod (the node), the pod's position on the node from the
 * node (kpath's numbering; the kernel's ids are allocated on first use).
 */
import type { Interface } from '../routing/index.js';
import { formatRoutes } from '../routing/index.js';
import type { KernelNode } from './node.js';
import type { NetWorld } from './world.js';

function flags(i: Interface): string {
  const f: string[] = [];
  if (i.kind === 'loopback') f.push('LOOPBACK');
  else f.push('BROADCAST', 'MULTICAST');
  if (i.up) f.push('UP', 'LOWER_UP');
  return `<${f.join(',')}>`;
}

function state(i: Interface): string {
  if (!i.up) return 'DOWN';
  return i.kind === 'loopback' || i.kind === 'vxlan' ? 'UNKNOWN' : 'UP';
}

function qdisc(i: Interface): string {
  if (!i.up) return 'noop';
  return i.kind === 'ethernet' ? 'fq_codel' : 'noqueue';
}

/** The EUI-64 link-local address of a MAC: fe80::, the MAC with ff:fe in the middle and bit 0x02 flipped. */
export function linkLocalOf(mac: string): string {
  const b = mac.split(':').map((x) => Number.parseInt(x, 16));
  const w = [((b[0]! ^ 0x02) << 8) | b[1]!, (b[2]! << 8) | 0xff, (0xfe << 8) | b[3]!, (b[4]! << 8) | b[5]!];
  return `fe80::${w.map((x) => x.toString(16)).join(':')}`;
}

interface Ctx {
  readonly world?: NetWorld;
  /** The namespace's name in the world (to number veth peers). */
  readonly ns?: string;
}

/** The `NAME@PEER` part and the `link-netnsid` of a veth. */
function vethPeer(k: KernelNode, i: Interface, ctx: Ctx): { at: string; netns: string } {
  const l = k.link(i.name);
  if (l?.spec.kind !== 'veth') return { at: '', netns: '' };
  if (l.spec.peerNs === ctx.ns) return { at: `@${l.spec.peer}`, netns: '' };
  const peerIf = ctx.world?.ns(l.spec.peerNs)?.routing.interface(l.spec.peer);
  let id = 0;
  if (!ctx.ns?.startsWith('pod/')) {
    const veths = k.routing.interfaces().filter((x) => k.link(x.name)?.spec.kind === 'veth');
    id = Math.max(0, veths.indexOf(i));
  }
  return { at: `@if${peerIf?.index ?? 0}`, netns: ` link-netnsid ${id}` };
}

function linkHead(k: KernelNode, i: Interface, ctx: Ctx, mode: boolean): string[] {
  const l = k.link(i.name);
  const peer = vethPeer(k, i, ctx);
  const master = i.master ? ` master ${i.master}` : '';
  const head = `${i.index}: ${i.name}${peer.at}: ${flags(i)} mtu ${i.mtu} qdisc ${qdisc(i)}${master} state ${state(i)}${mode ? ' mode DEFAULT' : ''} group default qlen 1000`;
  const ll =
    i.kind === 'loopback'
      ? '    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00'
      : `    link/ether ${l?.mac ?? '00:00:00:00:00:00'} brd ff:ff:ff:ff:ff:ff${peer.netns}`;
  return [head, ll];
}

/** `ip link` (`ip link show`). */
export function formatIpLink(k: KernelNode, ctx: Ctx = {}): string {
  return k.routing
    .interfaces()
    .flatMap((i) => linkHead(k, i, ctx, true))
    .map((l) => `${l}\n`)
    .join('');
}

/** `ip addr` (`ip address show`). */
export function formatIpAddr(k: KernelNode, ctx: Ctx = {}): string {
  const out: string[] = [];
  for (const i of k.routing.interfaces()) {
    out.push(...linkHead(k, i, ctx, false));
    const v4 = i.addresses.filter((a) => a.ip.family === 4);
    const v6 = i.addresses.filter((a) => a.ip.family === 6);
    for (const a of v4) {
      const brd = a.broadcast && i.kind !== 'loopback' ? ` brd ${a.broadcast.text}` : '';
      out.push(
        `    inet ${a.ip.text}/${a.prefixLen}${brd} scope ${a.scope}${a.secondary ? ' secondary' : ''} ${i.name}`,
      );
      out.push('       valid_lft forever preferred_lft forever');
    }
    for (const a of v6) {
      out.push(`    inet6 ${a.ip.text}/${a.prefixLen} scope ${a.scope} `);
      out.push('       valid_lft forever preferred_lft forever');
    }
    const mac = k.link(i.name)?.mac;
    if (i.up && i.kind !== 'loopback' && mac) {
      out.push(`    inet6 ${linkLocalOf(mac)}/64 scope link `);
      out.push('       valid_lft forever preferred_lft forever');
    }
  }
  return out.map((l) => `${l}\n`).join('');
}

/** `ip route` (table main). */
export function formatIpRoute(k: KernelNode): string {
  return formatRoutes(
    k.routing
      .mainTable()
      .routes()
      .filter((r) => r.dst.ip.family === 4),
  );
}

/** `ip neigh` (IPv4 and IPv6 entries, in the order they were made). */
export function formatIpNeigh(k: KernelNode, now = 0): string {
  return k.neigh
    .list()
    .map((e) => {
      const st = k.neigh.stateAt(e, now);
      return `${e.ip.text} dev ${e.dev}${e.mac ? ` lladdr ${e.mac}` : ''}${e.router ? ' router' : ''} ${st} \n`;
    })
    .join('');
}

/** `bridge fdb` (`bridge fdb show`): every device's entries in interface order. */
export function formatBridgeFdb(k: KernelNode, now = 0): string {
  const out: string[] = [];
  for (const i of k.routing.interfaces()) {
    if (i.kind === 'loopback') continue;
    const l = k.link(i.name);
    if (!l) continue;
    if (l.spec.kind === 'vxlan') {
      for (const e of l.spec.fdb) out.push(`${e.mac} dev ${i.name} dst ${e.dst.text} self permanent`);
      continue;
    }
    // Entries the bridge holds for this port (or for the bridge itself).
    const br = i.master ? k.link(i.master) : l.spec.kind === 'bridge' ? l : undefined;
    if (br?.spec.kind === 'bridge') {
      for (const e of br.spec.fdb.list(now)) {
        const onThis = i.master ? e.port === i.name : e.port === i.name && e.self;
        if (!onThis) continue;
        out.push(`${e.mac} dev ${i.name} master ${br.name} ${e.permanent ? 'permanent' : ''}`);
      }
    }
    if (!i.up) continue;
    const solicited = `33:33:ff:${l.mac.slice(9)}`;
    const multicast =
      l.spec.kind === 'bridge'
        ? ['33:33:00:00:00:01', '01:00:5e:00:00:6a', '33:33:00:00:00:6a', '01:00:5e:00:00:01', solicited]
        : ['33:33:00:00:00:01', '01:00:5e:00:00:01', solicited];
    for (const m of multicast) out.push(`${m} dev ${i.name} self permanent`);
  }
  return out.map((l) => `${l}\n`).join('');
}
