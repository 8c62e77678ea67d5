/**
 * The real-kernel side of the pod-network differential: builds the spec's topology in network
 * namespaces it creates (`kp-pd-<pid>-u` the underlay bridge, `-nI` node I, `-nIpJ` its pod J),
 * captures with dumpcap inside them, sends real traffic, and returns what each interface saw,
 * decoded by netmodel/pcap into the same Frame shape the emulator's pcap decodes to, in all and per
 * send. Every namespace and process it started is removed again, also when something fails.
 *
 * No sleeps: dumpcap writes to a pipe the harness reads as it comes, and small "marker" pings (39-byte
 * IP packets) are sent until every captured device has shown one, once before the first send (the
 * captures are live) and once after the last (everything before has been read). Frames belong to the
 * send during which they were captured (by capture timestamp); the markers fall outside every send.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { type DecodedFrame, decodeFrame, decodePcapng, type ReadCapture } from '../../netmodel/pcap/index.js';
import { batch, cleanupStaleNamespaces, exec, must, Namespaces, netnsUnavailable } from '../helpers/netns.js';
import {
  type CapturePoint,
  captureName,
  defaultMacScheme,
  gatewayAddress,
  hostVethName,
  type NodeSpec,
  podAddress,
  type RealTopologySpec,
  type Send,
  vtepAddress,
} from './spec.js';

export const NS_PREFIX = 'kp-pd-';

export interface SendResult {
  readonly send: Send;
  /** The sending program's exit status (0 = the ping was answered, the connection echoed). */
  readonly code: number;
  /** Its stdout and stderr together (ping's "local error: message too long, mtu=1450"). */
  readonly output: string;
}

export interface RealRun {
  /** Frames per captured interface (`NODE/DEVICE`, `pod/NS/NAME/eth0`), in capture order. */
  readonly frames: Record<string, DecodedFrame[]>;
  /** The captured bytes behind `frames`, same keys and order (for checkFrame and byte comparisons). */
  readonly raw: Record<string, Uint8Array[]>;
  /**
   * The frames of each send alone, per interface: what was captured from the moment that send
   * started to the start of the next (by capture timestamp). Every captured interface has a key.
   */
  readonly perSend: Record<string, DecodedFrame[]>[];
  readonly sends: readonly SendResult[];
}

/** Why the harness cannot run here, or undefined when it can. */
export function unavailableReason(): Promise<string | undefined> {
  return netnsUnavailable(
    NS_PREFIX,
    'creating network namespaces, veths, bridges and vxlan devices',
    [
      ['ip', 'iproute2'],
      ['bridge', 'iproute2'],
      ['dumpcap', 'tshark (its wireshark-common package holds dumpcap)'],
      ['ping', 'iputils-ping'],
    ],
    async (ns) => {
      const vx = await exec('ip', [
        '-n',
        ns,
        'link',
        'add',
        'vx0',
        'type',
        'vxlan',
        'id',
        '1',
        'dstport',
        '8472',
      ]);
      return vx.code === 0
        ? undefined
        : `the kernel cannot create a vxlan device in a namespace: ${vx.stderr.trim()}`;
    },
  );
}

/** Deletes namespaces with our prefix whose owning process is gone. */
export function cleanupStale(): Promise<void> {
  return cleanupStaleNamespaces(NS_PREFIX);
}

let runSeq = 0;

/** Microseconds since the epoch, as capture timestamps count them (CLOCK_REALTIME). */
function nowMicros(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000));
}

/** Builds the topology, captures, sends, tears everything down, and returns frames and send results. */
export async function runRealTopology(spec: RealTopologySpec): Promise<RealRun> {
  const topo = new Topology(spec, `${NS_PREFIX}${process.pid}-${runSeq++}`);
  try {
    await topo.build();
    if (spec.warmArp !== false && !spec.freshNeighbours) await topo.warmArp();
    await topo.startCaptures();
    const sends: SendResult[] = [];
    const starts: bigint[] = [];
    for (const s of spec.sends) {
      const prepared = await topo.prepare(s);
      if (spec.freshNeighbours) await topo.flushNeighbours();
      starts.push(nowMicros());
      sends.push(await topo.send(s, prepared));
    }
    // The end: marker pings seen on every captured interface, so everything before them was read.
    const end = nowMicros();
    await topo.markers();
    const { frames, raw, perSend } = await topo.stopCaptures(starts, end);
    return { frames, raw, perSend, sends };
  } finally {
    await topo.destroy();
  }
}

/** Frames per captured interface: the function the lead's comparison calls. */
export async function captureRealTopology(spec: RealTopologySpec): Promise<Record<string, DecodedFrame[]>> {
  return (await runRealTopology(spec)).frames;
}

/** The payload size of the marker pings (an IP packet of 39 bytes, which no test sends). */
const MARKER_SIZE = 11;
const MARKER_IP_LEN = 28 + MARKER_SIZE;

/** Is this captured frame a marker ping (echo request or reply), bare or inside VXLAN? */
function isMarker(d: Uint8Array): boolean {
  const at = (o: number) =>
    d.length >= o + 34 &&
    d[o + 12] === 0x08 &&
    d[o + 13] === 0x00 &&
    d[o + 23] === 1 &&
    ((d[o + 16]! << 8) | d[o + 17]!) === MARKER_IP_LEN;
  return at(0) || (d[23] === 17 && at(50));
}

/** The longest prefix of a pcapng stream made of whole blocks (dumpcap writes little-endian here). */
function wholeBlocks(b: Buffer): number {
  let pos = 0;
  while (pos + 12 <= b.length) {
    const len = b.readUInt32LE(pos + 4);
    if (len < 12 || pos + len > b.length) break;
    pos += len;
  }
  return pos;
}

/**
 * dumpcap in one namespace writing pcapng to a pipe (it flushes after every packet there), read as it
 * comes: the harness waits for frames it expects instead of sleeping.
 */
class StreamCapture {
  private buf = Buffer.alloc(0);
  private decoded: ReadCapture = { interfaces: [], packets: [] };
  private decodedUpTo = 0;
  private readonly waiters: { check: () => boolean; resolve: () => void }[] = [];
  readonly exited: Promise<void>;
  private err = '';

  constructor(
    readonly ns: string,
    readonly child: ChildProcess,
    /** dumpcap's device name -> the capture name (`node-a/eth0`). */
    readonly names: Map<string, string>,
  ) {
    child.stdout!.on('data', (b: Buffer) => {
      this.buf = Buffer.concat([this.buf, b]);
      this.wake();
    });
    child.stderr!.on('data', (b: Buffer) => {
      this.err += b.toString();
      this.wake();
    });
    this.exited = new Promise((r) => child.once('exit', () => r()));
  }

  stderr(): string {
    return this.err;
  }

  capture(): ReadCapture {
    const n = wholeBlocks(this.buf);
    if (n !== this.decodedUpTo) {
      this.decoded = decodePcapng(new Uint8Array(this.buf.subarray(0, n)));
      this.decodedUpTo = n;
    }
    return this.decoded;
  }

  /** Marker frames seen so far, per capture name. */
  markers(): Map<string, number> {
    const out = new Map<string, number>();
    for (const name of this.names.values()) out.set(name, 0);
    for (const p of this.capture().packets) {
      const name = this.names.get(p.interfaceName);
      if (name !== undefined && isMarker(p.data)) out.set(name, (out.get(name) ?? 0) + 1);
    }
    return out;
  }

  private wake(): void {
    for (const w of [...this.waiters])
      if (w.check()) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
  }

  /** Resolves once `check` holds (tested whenever dumpcap writes), or false after `ms`. */
  until(check: () => boolean, ms: number): Promise<boolean> {
    if (check()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = {
        check,
        resolve: () => {
          clearTimeout(t);
          resolve(true);
        },
      };
      const t = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(false);
      }, ms);
      this.waiters.push(w);
    });
  }
}

interface Prepared {
  readonly server?: ChildProcess;
}

class Topology {
  private readonly namespaces = new Namespaces();
  private readonly children: ChildProcess[] = [];
  private readonly captures: StreamCapture[] = [];
  private readonly mac;
  private readonly overlayMtu: number;
  private readonly underlayMtu: number;
  private readonly podMtu: number;
  private readonly vxlan: boolean;
  private readonly calico: boolean;

  constructor(
    private readonly spec: RealTopologySpec,
    private readonly prefix: string,
  ) {
    this.mac = spec.mac ?? defaultMacScheme(spec);
    this.vxlan = (spec.network ?? 'vxlan') === 'vxlan';
    this.calico = spec.network === 'calico';
    this.underlayMtu = spec.underlayMtu ?? 1500;
    this.overlayMtu = spec.overlayMtu ?? (this.vxlan ? this.underlayMtu - 50 : this.underlayMtu);
    this.podMtu = spec.podMtu ?? this.overlayMtu;
  }

  underlayNs(): string {
    return `${this.prefix}-u`;
  }

  nodeNs(i: number): string {
    return `${this.prefix}-n${i}`;
  }

  podNs(i: number, j: number): string {
    return `${this.prefix}-n${i}p${j}`;
  }

  private allNs(): string[] {
    const all = [this.underlayNs()];
    for (const [i, node] of this.spec.nodes.entries()) {
      all.push(this.nodeNs(i));
      for (const j of node.pods.keys()) all.push(this.podNs(i, j));
    }
    return all;
  }

  private locatePod(name: string): { node: NodeSpec; i: number; j: number } {
    for (const [i, node] of this.spec.nodes.entries()) {
      const j = node.pods.findIndex((p) => p.name === name);
      if (j >= 0) return { node, i, j };
    }
    throw new Error(`podnet-diff: no pod named ${name}`);
  }

  async build(): Promise<void> {
    const s = this.spec;
    const vni = s.vni ?? 1;
    const port = s.vxlanPort ?? 8472;
    const u = this.underlayNs();
    // No IPv6 (router solicitations and MLD reports would land in every capture); nodes forward.
    for (const ns of this.allNs()) {
      const node = !ns.endsWith('-u') && !/p\d+$/.test(ns);
      await this.namespaces.add(ns, [
        'net.ipv6.conf.all.disable_ipv6=1',
        'net.ipv6.conf.default.disable_ipv6=1',
        ...(node ? ['net.ipv4.ip_forward=1'] : []),
      ]);
    }
    const mtuU = this.underlayMtu;
    const mtuO = this.overlayMtu;
    const mtuP = this.podMtu;
    // The underlay: a bridge with one veth per node; the node ends become the nodes' eth0.
    const under = ['link add br0 type bridge', 'link set br0 up'];
    for (const i of s.nodes.keys()) {
      under.push(`link add n${i} mtu ${mtuU} type veth peer name eth0 netns ${this.nodeNs(i)}`);
      under.push(`link set n${i} master br0 up`);
    }
    under.push('link set lo up');
    await batch('ip', u, under);
    await Promise.all(
      s.nodes.map(async (node, i) => {
        const n = this.nodeNs(i);
        const ctx = { nodeIndex: i };
        const cmds = [
          'link set lo up',
          `link set eth0 address ${this.mac({ kind: 'node-eth0', node: node.name }, ctx)} mtu ${mtuU}`,
          `addr add ${node.ip}/24 dev eth0`,
          'link set eth0 up',
        ];
        if (this.calico) return this.buildCalicoNode(node, i, cmds);
        cmds.push(
          // cni0 with the subnet's .1 (the bridge plugin with isGateway).
          'link add cni0 type bridge',
          `link set cni0 address ${this.mac({ kind: 'cni0', node: node.name }, ctx)} mtu ${mtuP}`,
          `addr add ${gatewayAddress(node)}/24 dev cni0`,
          'link set cni0 up',
        );
        if (this.vxlan)
          cmds.push(
            // flannel.1 as flanneld creates it (pkg/backend/vxlan/device.go).
            `link add flannel.1 type vxlan id ${vni} local ${node.ip} dev eth0 dstport ${port} nolearning`,
            `link set flannel.1 address ${this.mac({ kind: 'flannel.1', node: node.name }, ctx)} mtu ${mtuO}`,
            `addr add ${vtepAddress(node)}/32 dev flannel.1`,
            'link set flannel.1 up',
          );
        for (const [j, pod] of node.pods.entries()) {
          const veth = hostVethName(node, i, pod.name);
          const mtu = pod.mtu ?? mtuP;
          const pctx = { nodeIndex: i, podIndex: j };
          cmds.push(
            `link add ${veth} mtu ${mtu} type veth peer name eth0 netns ${this.podNs(i, j)}`,
            `link set ${veth} address ${this.mac({ kind: 'host-veth', node: node.name, pod: pod.name }, pctx)}`,
            `link set ${veth} master cni0 up`,
          );
        }
        const fdb: string[] = [];
        const routes: string[] = [];
        for (const [k, remote] of s.nodes.entries()) {
          if (k === i) continue;
          if (!this.vxlan) {
            // host-gw: the remote subnet via the remote node's address on the underlay.
            routes.push(`route add ${remote.podCidr} via ${remote.ip} dev eth0`);
            continue;
          }
          // Per remote node, in flanneld's order: neighbour, FDB, route (pkg/backend/vxlan/vxlan_network.go).
          const rmac = this.mac({ kind: 'flannel.1', node: remote.name }, { nodeIndex: k });
          const vtep = vtepAddress(remote);
          cmds.push(`neigh add ${vtep} lladdr ${rmac} dev flannel.1 nud permanent`);
          fdb.push(`fdb add ${rmac} dev flannel.1 dst ${remote.ip} self permanent`);
          routes.push(`route add ${remote.podCidr} via ${vtep} dev flannel.1 onlink`);
        }
        await batch('ip', n, cmds);
        if (fdb.length) await batch('bridge', n, fdb);
        if (routes.length) await batch('ip', n, routes);
        await Promise.all(
          node.pods.map((pod, j) =>
            batch('ip', this.podNs(i, j), [
              'link set lo up',
              `link set eth0 address ${this.mac({ kind: 'pod-eth0', node: node.name, pod: pod.name }, { nodeIndex: i, podIndex: j })} mtu ${pod.mtu ?? mtuP}`,
              `addr add ${podAddress(node, pod.name)}/24 dev eth0`,
              'link set eth0 up',
              `route add default via ${gatewayAddress(node)}`,
            ]),
          ),
        );
      }),
    );
  }

  /** A Calico node (BGP routes): the pods' host veths with proxy ARP, /32 routes, the blocks. */
  private async buildCalicoNode(node: NodeSpec, i: number, cmds: string[]): Promise<void> {
    const n = this.nodeNs(i);
    const sysctls: string[] = [];
    for (const [j, pod] of node.pods.entries()) {
      const veth = hostVethName(node, i, pod.name);
      const pctx = { nodeIndex: i, podIndex: j };
      cmds.push(
        `link add ${veth} mtu ${pod.mtu ?? this.podMtu} type veth peer name eth0 netns ${this.podNs(i, j)}`,
        `link set ${veth} address ${this.mac({ kind: 'host-veth', node: node.name, pod: pod.name }, pctx)} up`,
      );
      // felix: proxy ARP on the host end, answered at once (proxy_delay 0).
      sysctls.push(`net.ipv4.conf.${veth}.proxy_arp=1`, `net.ipv4.neigh.${veth}.proxy_delay=0`);
    }
    await batch('ip', n, cmds);
    await must('ip', ['netns', 'exec', n, 'sysctl', '-qw', ...sysctls]);
    // The node's default route (its router, which answers nothing here): proxy ARP answers for
    // 169.254.1.1 only because the host has a route to it through another device.
    const router = `${node.ip.split('.').slice(0, 3).join('.')}.1`;
    const routes = [`route add blackhole ${node.podCidr}`, `route add default via ${router} dev eth0`];
    for (const pod of node.pods)
      routes.push(
        `route add ${podAddress(node, pod.name)}/32 dev ${hostVethName(node, i, pod.name)} scope link`,
      );
    for (const [k, remote] of this.spec.nodes.entries())
      if (k !== i) routes.push(`route add ${remote.podCidr} via ${remote.ip} dev eth0`);
    await batch('ip', n, routes);
    await Promise.all(
      node.pods.map((pod, j) =>
        batch('ip', this.podNs(i, j), [
          'link set lo up',
          `link set eth0 address ${this.mac({ kind: 'pod-eth0', node: node.name, pod: pod.name }, { nodeIndex: i, podIndex: j })} mtu ${pod.mtu ?? this.podMtu}`,
          `addr add ${podAddress(node, pod.name)}/32 dev eth0`,
          'link set eth0 up',
          'route add 169.254.1.1 dev eth0 scope link',
          'route add default via 169.254.1.1 dev eth0',
        ]),
      ),
    );
  }

  /**
   * ARP resolved before capturing, without sending anything: every neighbour a flow will need
   * (pod -> gateway, node -> its pods, node -> node) entered as REACHABLE with its real MAC, as a
   * completed ARP exchange leaves it. Entries age out (base_reachable_time, 15-45 s) long after a run.
   */
  async warmArp(): Promise<void> {
    const s = this.spec;
    await Promise.all(
      s.nodes.map(async (node, i) => {
        const ctx = { nodeIndex: i };
        const cni0 = this.mac({ kind: 'cni0', node: node.name }, ctx);
        const cmds: string[] = [];
        for (const [k, other] of s.nodes.entries())
          if (k !== i)
            cmds.push(
              `neigh replace ${other.ip} lladdr ${this.mac({ kind: 'node-eth0', node: other.name }, { nodeIndex: k })} dev eth0 nud reachable`,
            );
        for (const [j, pod] of node.pods.entries()) {
          const mac = this.mac(
            { kind: 'pod-eth0', node: node.name, pod: pod.name },
            { nodeIndex: i, podIndex: j },
          );
          cmds.push(`neigh replace ${podAddress(node, pod.name)} lladdr ${mac} dev cni0 nud reachable`);
          await batch('ip', this.podNs(i, j), [
            `neigh replace ${gatewayAddress(node)} lladdr ${cni0} dev eth0 nud reachable`,
          ]);
        }
        if (cmds.length) await batch('ip', this.nodeNs(i), cmds);
      }),
    );
  }

  /** Every neighbour entry that is not permanent, gone (flannel's permanent ones stay). */
  async flushNeighbours(): Promise<void> {
    await Promise.all(this.allNs().map((ns) => must('ip', ['-n', ns, 'neigh', 'flush', 'all'])));
  }

  private nsOf(c: CapturePoint): { ns: string; device: string } {
    if ('pod' in c) {
      const { i, j } = this.locatePod(c.pod);
      return { ns: this.podNs(i, j), device: 'eth0' };
    }
    const i = this.spec.nodes.findIndex((n) => n.name === c.node);
    if (i < 0) throw new Error(`podnet-diff: capture on unknown node ${c.node}`);
    return { ns: this.nodeNs(i), device: c.device };
  }

  /**
   * One dumpcap per namespace, on all of that namespace's chosen devices; resolves once every device
   * has captured a marker ping, so the captures are live before the first send.
   */
  async startCaptures(): Promise<void> {
    const byNs = new Map<string, Map<string, string>>();
    for (const c of this.spec.capture) {
      const { ns, device } = this.nsOf(c);
      if (!byNs.has(ns)) byNs.set(ns, new Map());
      byNs.get(ns)!.set(device, captureName(this.spec, c));
    }
    for (const [ns, names] of byNs) {
      const args = ['netns', 'exec', ns, 'dumpcap', '-q', '-n', '-w', '-'];
      for (const d of names.keys()) args.push('-i', d);
      const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      this.children.push(child);
      this.captures.push(new StreamCapture(ns, child, names));
    }
    await Promise.all(
      this.captures.map(async (c) => {
        let exited = false;
        void c.exited.then(() => {
          exited = true;
        });
        // dumpcap says "Capturing on 'eth0'" once the devices are open.
        const ok = await c.until(() => exited || /Capturing on/.test(c.stderr()), 30_000);
        if (!ok || exited) throw new Error(`dumpcap in ${c.ns} did not start: ${c.stderr().trim()}`);
      }),
    );
    await this.markers();
  }

  /**
   * Marker pings (39-byte IP packets) from every pod to a pod on another node (or its gateway), until
   * each captured device has captured one more marker than before: from then on, everything that
   * crossed those devices earlier has been read from the capture.
   */
  async markers(): Promise<void> {
    const before = this.captures.map((c) => c.markers());
    const seen = () =>
      this.captures.every((c, k) => [...c.markers()].every(([name, n]) => n > (before[k]!.get(name) ?? 0)));
    const deadline = Date.now() + 30_000;
    while (!seen()) {
      if (Date.now() > deadline) {
        const missing = this.captures.flatMap((c, k) =>
          [...c.markers()].filter(([name, n]) => n <= (before[k]!.get(name) ?? 0)).map(([name]) => name),
        );
        throw new Error(`podnet-diff: no marker ping captured on ${missing.join(', ')} within 30 s`);
      }
      const pings = this.spec.nodes.flatMap((node, i) =>
        node.pods.map((_pod, j) => {
          const far = this.spec.nodes.find((n, k) => k !== i && n.pods.length > 0);
          const to = far ? podAddress(far, far.pods[0]!.name) : gatewayAddress(node);
          return exec('ip', [
            'netns',
            'exec',
            this.podNs(i, j),
            'ping',
            '-n',
            '-c1',
            '-W2',
            '-s',
            String(MARKER_SIZE),
            to,
          ]);
        }),
      );
      await Promise.all(pings);
      await Promise.all(this.captures.map((c) => c.until(seen, 3000)));
    }
  }

  /**
   * Stops the captures and returns every frame, and each send's own frames (by capture timestamp:
   * from `starts[i]` to the next start, the last up to `end`).
   */
  async stopCaptures(
    starts: readonly bigint[],
    end: bigint,
  ): Promise<{
    frames: Record<string, DecodedFrame[]>;
    raw: Record<string, Uint8Array[]>;
    perSend: Record<string, DecodedFrame[]>[];
  }> {
    const names = this.spec.capture.map((c) => captureName(this.spec, c));
    const perSend: Record<string, DecodedFrame[]>[] = starts.map(() =>
      Object.fromEntries(names.map((n) => [n, []])),
    );
    const opts = { vxlanPorts: [this.spec.vxlanPort ?? 8472] };
    const frames: Record<string, DecodedFrame[]> = Object.fromEntries(names.map((n) => [n, []]));
    const raw: Record<string, Uint8Array[]> = Object.fromEntries(names.map((n) => [n, []]));
    for (const c of this.captures) {
      c.child.kill('SIGTERM');
      await c.exited;
      const read = c.capture();
      for (const p of read.packets) {
        const name = c.names.get(p.interfaceName);
        if (name === undefined) continue;
        const exp = read.interfaces[p.interfaceId]?.tsresolExponent ?? 6;
        const us = exp >= 6 ? p.timestamp / 10n ** BigInt(exp - 6) : p.timestamp * 10n ** BigInt(6 - exp);
        if (us >= end) continue;
        let k = -1;
        for (let i = 0; i < starts.length; i++) if (us >= starts[i]!) k = i;
        if (k < 0) continue;
        const f = decodeFrame(p.data, opts);
        perSend[k]![name]!.push(f);
        frames[name]!.push(f);
        raw[name]!.push(p.data);
      }
    }
    return { frames, raw, perSend };
  }

  private target(to: string): string {
    if (/^\d+\.\d+\.\d+\.\d+$/.test(to)) return to;
    const { node } = this.locatePod(to);
    return podAddress(node, to);
  }

  /** What a send needs running before it starts: the echo server of a TCP or UDP send. */
  async prepare(s: Send): Promise<Prepared> {
    if (s.kind === 'ping') return {};
    const server = this.locatePod(s.to);
    const sns = this.podNs(server.i, server.j);
    const srv = spawn(
      'ip',
      ['netns', 'exec', sns, process.execPath, '-e', ECHO_SERVER, s.kind, String(s.port)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.children.push(srv);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('echo server did not start within 30 s')), 30_000);
      srv.stdout!.once('data', () => {
        clearTimeout(t);
        resolve();
      });
      srv.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`echo server exited (${code})`));
      });
    });
    return { server: srv };
  }

  async send(s: Send, prepared: Prepared = {}): Promise<SendResult> {
    const { i, j } = this.locatePod(s.from);
    const ns = this.podNs(i, j);
    const dst = this.target(s.to);
    if (s.kind === 'ping') {
      const r = await exec('ip', [
        'netns',
        'exec',
        ns,
        'ping',
        '-n',
        '-c1',
        '-W2',
        '-s',
        String(s.size),
        '-M',
        s.df ? 'do' : 'dont',
        dst,
      ]);
      return { send: s, code: r.code, output: r.stdout + r.stderr };
    }
    const srv = prepared.server ?? (await this.prepare(s)).server!;
    const r = await exec(
      'ip',
      [
        'netns',
        'exec',
        ns,
        process.execPath,
        '-e',
        CLIENT,
        s.kind,
        dst,
        String(s.port),
        String(s.sport),
        String(s.bytes),
      ],
      undefined,
      30_000,
    );
    // The server exits once its side is closed (TCP) or the datagram echoed (UDP): the whole
    // exchange, FINs included, has crossed every hop.
    await new Promise<void>((res) => {
      if (srv.exitCode !== null || srv.signalCode !== null) res();
      else srv.once('exit', () => res());
      setTimeout(() => {
        srv.kill('SIGTERM');
      }, 10_000).unref();
    });
    return { send: s, code: r.code, output: r.stdout + r.stderr };
  }

  async destroy(): Promise<void> {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await this.namespaces.removeAll();
  }
}

/**
 * Echo server: `tcp|udp PORT`; prints "ready" once listening, echoes one connection (until the peer
 * closes and its own FIN is acknowledged) or one datagram, then exits.
 */
const ECHO_SERVER = `
const [kind, port] = process.argv.slice(1);
if (kind === 'tcp') {
  const srv = require('node:net').createServer((s) => {
    s.on('data', (d) => s.write(d));
    s.on('end', () => s.end());
    s.on('close', () => process.exit(0));
    s.on('error', () => process.exit(1));
  });
  srv.listen(Number(port), '0.0.0.0', () => console.log('ready'));
} else {
  const u = require('node:dgram').createSocket('udp4');
  u.on('message', (m, r) => u.send(m, r.port, r.address, () => process.exit(0)));
  u.bind(Number(port), '0.0.0.0', () => console.log('ready'));
}`;

/** Client: `tcp|udp DST PORT SPORT BYTES`; exits 0 once the echo came back, 1 after 10 s without it. */
const CLIENT = `
const [kind, dst, port, sport, bytes] = process.argv.slice(1);
const payload = Buffer.alloc(Number(bytes), 0x61);
setTimeout(() => { console.log('timeout'); process.exit(1); }, 10000);
if (kind === 'tcp') {
  const s = require('node:net').connect({ host: dst, port: Number(port), localPort: Number(sport) }, () => s.write(payload));
  let got = 0;
  s.on('data', (d) => { got += d.length; if (got >= payload.length) s.end(); });
  s.on('close', () => process.exit(got >= payload.length ? 0 : 1));
  s.on('error', (e) => { console.log(e.message); process.exit(1); });
} else {
  const u = require('node:dgram').createSocket('udp4');
  u.bind(Number(sport), () => u.send(payload, Number(port), dst));
  u.on('message', () => process.exit(0));
}`;
