/**
 * Neighbour resolution across the emulated link layer (ARP, as arp_process answers it): the request
 * is broadcast from the asking device through veths, bridges (flooded to every port) and the
 * underlay; a namespace answers when the target is one of its local addresses (arp_ignore=0), or,
 * on a device with proxy_arp, when its route to the target leaves by another device (how a Calico
 * host answers for 169.254.1.1). Bridges on the way learn the asker's MAC from the request and the
 * answerer's from the reply; the answerer learns the asker as a STALE neighbour, the asker gets a
 * REACHABLE entry. VXLAN devices do not carry the request: flannel installs permanent neighbours.
 */
import type { IP } from '../addr.js';
import type { Mac } from '../devices/index.js';
import type { KernelNode } from './node.js';
import type { Attachment, NetWorld } from './world.js';

export interface ArpAnswer {
  readonly mac: Mac;
  readonly by: Attachment;
  /** Bridges that learned a MAC on the way: `cni0 learned <mac> on vethX`. */
  readonly learned: readonly { readonly ns: string; readonly bridge: string; readonly text: string }[];
  readonly proxy: boolean;
}

interface Reach {
  readonly at: Attachment;
  /** Bridge ports crossed to get here: [node, bridge, port towards the asker, port towards this]. */
  readonly via: readonly { ns: string; bridge: string; inPort: string; outPort: string }[];
}

/** Every stack endpoint an L2 broadcast from (ns, dev) reaches. */
function flood(world: NetWorld, from: Attachment): Reach[] {
  const out: Reach[] = [];
  const seen = new Set<string>([`${from.ns}|${from.dev}`]);
  const visit = (at: Attachment, via: Reach['via']) => {
    const key = `${at.ns}|${at.dev}`;
    if (seen.has(key)) return;
    seen.add(key);
    const node = world.ns(at.ns);
    const iface = node?.routing.interface(at.dev);
    if (!node || !iface?.up) return;
    if (iface.master) {
      // A bridge port: the frame is flooded to the bridge itself and to every other port.
      const br = iface.master;
      out.push({
        at: { ns: at.ns, dev: br },
        via: [...via, { ns: at.ns, bridge: br, inPort: at.dev, outPort: br }],
      });
      for (const port of node.routing.interfaces()) {
        if (port.master !== br || port.name === at.dev) continue;
        seen.add(`${at.ns}|${port.name}`);
        const l = node.link(port.name);
        if (l?.spec.kind === 'veth')
          visit({ ns: l.spec.peerNs, dev: l.spec.peer }, [
            ...via,
            { ns: at.ns, bridge: br, inPort: at.dev, outPort: port.name },
          ]);
      }
      return;
    }
    out.push({ at, via });
  };
  const node = world.ns(from.ns);
  const link = node?.link(from.dev);
  if (!node || !link) return out;
  const s = link.spec;
  if (s.kind === 'veth') visit({ ns: s.peerNs, dev: s.peer }, []);
  else if (s.kind === 'ethernet') for (const m of world.segment(s.segment)) visit(m, []);
  else if (s.kind === 'bridge') {
    for (const port of node.routing.interfaces()) {
      if (port.master !== from.dev) continue;
      const l = node.link(port.name);
      seen.add(`${from.ns}|${port.name}`);
      if (l?.spec.kind === 'veth')
        visit({ ns: l.spec.peerNs, dev: l.spec.peer }, [
          { ns: from.ns, bridge: from.dev, inPort: from.dev, outPort: port.name },
        ]);
    }
  }
  return out;
}

function answers(node: KernelNode, dev: string, target: IP): { proxy: boolean } | undefined {
  const t = node.routing.addrType(target);
  if (t === 'LOCAL' && !(target.family === 4 && target.n >>> 24 === 127)) return { proxy: false };
  const link = node.link(dev);
  if (link?.proxyArp) {
    const rt = node.routing.route(target);
    if (rt.kind === 'unicast' && rt.dev !== dev) return { proxy: true };
  }
  return undefined;
}

/** Resolve `target` on (ns, dev) as an ARP request would; updates neighbour tables and bridge FDBs. */
export function resolveArp(
  world: NetWorld,
  from: Attachment,
  target: IP,
  now: number,
): ArpAnswer | undefined {
  const asker = world.ns(from.ns);
  const askerLink = asker?.link(from.dev);
  if (!asker || !askerLink) return undefined;
  const askerIp = asker.routing.selectSource(from.dev, target, 'global', target.family);
  for (const r of flood(world, from)) {
    const node = world.ns(r.at.ns);
    const link = node?.link(r.at.dev);
    if (!node || !link) continue;
    const a = answers(node, r.at.dev, target);
    if (!a) continue;
    const learned: { ns: string; bridge: string; text: string }[] = [];
    for (const hop of r.via) {
      const br = world.ns(hop.ns)?.link(hop.bridge);
      if (br?.spec.kind !== 'bridge') continue;
      if (hop.inPort !== hop.bridge) {
        br.spec.fdb.learn(askerLink.mac, hop.inPort, now);
        learned.push({
          ns: hop.ns,
          bridge: hop.bridge,
          text: `${hop.bridge} learned ${askerLink.mac} on ${hop.inPort} (the ARP request)`,
        });
      }
      if (hop.outPort !== hop.bridge) {
        br.spec.fdb.learn(link.mac, hop.outPort, now);
        learned.push({
          ns: hop.ns,
          bridge: hop.bridge,
          text: `${hop.bridge} learned ${link.mac} on ${hop.outPort} (the ARP reply)`,
        });
      }
    }
    if (askerIp && !a.proxy)
      node.neigh.set({ ip: askerIp, dev: r.at.dev, mac: askerLink.mac, state: 'STALE', updated: now });
    asker.neigh.set({ ip: target, dev: from.dev, mac: link.mac, state: 'REACHABLE', updated: now });
    return { mac: link.mac, by: r.at, learned, proxy: a.proxy };
  }
  asker.neigh.set({ ip: target, dev: from.dev, state: 'FAILED', updated: now });
  return undefined;
}
