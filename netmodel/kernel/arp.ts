/**
 * Neighbour resolution across the emulated link layer (ARP, as arp_process answers it): the request
 * is broadcast from the asking device through veths, bridges (flooded to every port) and the
 * underlay; a namespace answers when the target is one of its local addresses (arp_ignore=0), or,
 * on a device with proxy_arp, when its route to the target leaves by another device (how a Calico
 * host answers for 169.254.1.1). Bridges on the way learn the asker's MAC from the request and the
 * answerer's from the reply; the answerer (a proxy too) learns the asker as a STALE neighbour, the asker gets a
 * REACHABLE entry. VXLAN devices do not carry the request: flannel installs permanent neighbours.
 *
 * `arpExchange` also gives the frames a capture on each device sees, in order: the broadcast request
 * on the asker's device, on every device it is flooded to (the far end of a veth, every port of a
 * bridge and the bridge itself, every uplink on the segment), and the unicast reply back along the
 * bridges' FDB. Without a reply, the request goes out mcast_solicit (3) times.
 */
import type { IP } from '../addr.js';
import { type ArpFrame, type ArpWire, BROADCAST_MAC, type Mac } from '../devices/index.js';
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
  return arpExchange(world, from, target, now).answer;
}

/** The neighbour table's default mcast_solicit: broadcast requests before an entry is FAILED. */
export const MCAST_SOLICIT = 3;

const ZERO_MAC: Mac = '00:00:00:00:00:00';

/** A device a frame crosses, and whether that device transmits or receives it. */
export interface L2Hop {
  readonly ns: string;
  readonly dev: string;
  readonly dir: 'out' | 'in';
}

/**
 * The devices a frame sent on (ns, dev) to `dst` crosses, in order, each with its direction: the far
 * end of a veth, the members of the underlay segment it is for, and through a bridge: to the bridge
 * itself when the frame is for it (or broadcast), out of the port the FDB names, else flooded out of
 * every other port.
 */
export function l2Path(world: NetWorld, from: Attachment, dst: Mac, now: number): L2Hop[] {
  const out: L2Hop[] = [];
  const seen = new Set<string>();
  const bcast = dst === BROADCAST_MAC;
  const ports = (node: KernelNode, br: string, except: string | undefined) =>
    node.routing.interfaces().filter((i) => i.master === br && i.name !== except && i.up);
  const portsFor = (node: KernelNode, br: string, except: string | undefined): string[] => {
    const link = node.link(br);
    if (!bcast && link?.spec.kind === 'bridge') {
      const e = link.spec.fdb.lookup(dst, now);
      if (e && !e.self) return e.port === except ? [] : [e.port];
    }
    return ports(node, br, except).map((i) => i.name);
  };
  const send = (at: Attachment) => {
    const key = `${at.ns}|${at.dev}|out`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ ...at, dir: 'out' });
    const node = world.ns(at.ns);
    const link = node?.link(at.dev);
    if (!node || !link) return;
    const s = link.spec;
    if (s.kind === 'veth') receive({ ns: s.peerNs, dev: s.peer });
    else if (s.kind === 'ethernet') {
      for (const m of world.segment(s.segment)) {
        if (m.ns === at.ns && m.dev === at.dev) continue;
        if (bcast || world.ns(m.ns)?.link(m.dev)?.mac === dst) receive(m);
      }
    } else if (s.kind === 'bridge')
      for (const p of portsFor(node, at.dev, undefined)) send({ ns: at.ns, dev: p });
  };
  const receive = (at: Attachment) => {
    const key = `${at.ns}|${at.dev}|in`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ ...at, dir: 'in' });
    const node = world.ns(at.ns);
    const iface = node?.routing.interface(at.dev);
    if (!node || !iface?.up || !iface.master) return;
    const br = node.link(iface.master);
    if (bcast || br?.mac === dst) {
      const k = `${at.ns}|${iface.master}|in`;
      if (!seen.has(k)) {
        seen.add(k);
        out.push({ ns: at.ns, dev: iface.master, dir: 'in' });
      }
      if (!bcast) return;
    }
    for (const p of portsFor(node, iface.master, at.dev)) send({ ns: at.ns, dev: p });
  };
  send(from);
  return out;
}

export interface ArpExchange {
  /** The answer (undefined: nobody answered; the neighbour is FAILED). */
  readonly answer?: ArpAnswer;
  /** The request and reply on every device they cross, in capture order. */
  readonly frames: readonly ArpWire[];
}

/** Resolve `target` on (ns, dev) as arp_solicit and arp_process do, with the frames a capture shows. */
export function arpExchange(world: NetWorld, from: Attachment, target: IP, now: number): ArpExchange {
  const asker = world.ns(from.ns);
  const askerLink = asker?.link(from.dev);
  if (!asker || !askerLink) return { frames: [] };
  const askerIp = asker.routing.selectSource(from.dev, target, 'global', target.family);
  const request: ArpFrame | undefined = askerIp
    ? {
        src: askerLink.mac,
        dst: BROADCAST_MAC,
        op: 1,
        senderMac: askerLink.mac,
        senderIp: askerIp.text,
        targetMac: ZERO_MAC,
        targetIp: target.text,
      }
    : undefined;
  const requestFrames = (): ArpWire[] =>
    request ? l2Path(world, from, BROADCAST_MAC, now).map((w) => ({ ...w, frame: request })) : [];
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
    // arp_process enters the asker as a neighbour (neigh_event_ns) whether it answers for its own
    // address or as a proxy.
    if (askerIp)
      node.neigh.set({ ip: askerIp, dev: r.at.dev, mac: askerLink.mac, state: 'STALE', updated: now });
    asker.neigh.set({ ip: target, dev: from.dev, mac: link.mac, state: 'REACHABLE', updated: now });
    const frames = requestFrames();
    if (request) {
      const reply: ArpFrame = {
        src: link.mac,
        dst: askerLink.mac,
        op: 2,
        senderMac: link.mac,
        senderIp: target.text,
        targetMac: askerLink.mac,
        targetIp: request.senderIp,
      };
      for (const w of l2Path(world, r.at, askerLink.mac, now)) frames.push({ ...w, frame: reply });
    }
    return { answer: { mac: link.mac, by: r.at, learned, proxy: a.proxy }, frames };
  }
  asker.neigh.set({ ip: target, dev: from.dev, state: 'FAILED', updated: now });
  const frames: ArpWire[] = [];
  for (let i = 0; i < MCAST_SOLICIT; i++) frames.push(...requestFrames());
  return { frames };
}
