/**
 * The real-kernel side of the pod-network differential: builds the spec's topology in network
 * namespaces it creates (`kp-pd-<pid>-u` the underlay bridge, `-nI` node I, `-nIpJ` its pod J),
 * captures with dumpcap inside them, sends real traffic, and returns what each interface saw,
 * decoded by netmodel/pcap into the same Frame shape the emulator's pcap decodes to. Every namespace
 * and process it started is removed again, also when something fails.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DecodedFrame, decodePcapng, framesByInterface } from '../../netmodel/pcap/index.js';
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
  readonly sends: readonly SendResult[];
}

interface Exec {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

function exec(cmd: string, args: readonly string[], timeoutMs = 10_000, input?: string): Promise<Exec> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ stdout, stderr, code });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

async function must(cmd: string, args: readonly string[]): Promise<string> {
  const r = await exec(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Why the harness cannot run here, or undefined when it can. */
export async function unavailableReason(): Promise<string | undefined> {
  if (process.platform !== 'linux') return 'not Linux: network namespaces are a Linux feature';
  if (typeof process.getuid !== 'function' || process.getuid() !== 0)
    return 'not root: creating network namespaces, veths, bridges and vxlan devices needs root (CI runs as root)';
  const tools: [string, string][] = [
    ['ip', 'iproute2'],
    ['bridge', 'iproute2'],
    ['dumpcap', 'tshark (its wireshark-common package holds dumpcap)'],
    ['ping', 'iputils-ping'],
  ];
  for (const [tool, pkg] of tools) {
    const found = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'].some((d) => existsSync(join(d, tool)));
    if (!found) return `${tool} is not installed (apt-get install ${pkg})`;
  }
  const probe = `${NS_PREFIX}${process.pid}-probe`;
  const add = await exec('ip', ['netns', 'add', probe]);
  if (add.code !== 0) return `cannot create a network namespace: ${add.stderr.trim()}`;
  const vx = await exec('ip', [
    '-n',
    probe,
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
  await exec('ip', ['netns', 'del', probe]);
  if (vx.code !== 0) return `the kernel cannot create a vxlan device in a namespace: ${vx.stderr.trim()}`;
  return undefined;
}

/** Deletes namespaces with our prefix whose owning process is gone. */
export async function cleanupStale(): Promise<void> {
  const list = await exec('ip', ['netns', 'list']);
  for (const line of list.stdout.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = new RegExp(`^${NS_PREFIX}(\\d+)-`).exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = pid === process.pid;
    if (!alive) {
      try {
        process.kill(pid, 0);
        alive = true;
      } catch {
        alive = false;
      }
    }
    if (!alive) await exec('ip', ['netns', 'del', name]);
  }
}

let runSeq = 0;

/** Builds the topology, captures, sends, tears everything down, and returns frames and send results. */
export async function runRealTopology(spec: RealTopologySpec): Promise<RealRun> {
  const topo = new Topology(spec, `${NS_PREFIX}${process.pid}-${runSeq++}`);
  try {
    await topo.build();
    if (spec.warmArp !== false) await topo.warmArp();
    await topo.startCaptures();
    const sends: SendResult[] = [];
    for (const s of spec.sends) sends.push(await topo.send(s));
    // Let the last replies and FINs cross every hop before the captures stop.
    await new Promise((r) => setTimeout(r, 300));
    const { frames, raw } = await topo.stopCaptures();
    return { frames, raw, sends };
  } finally {
    await topo.destroy();
  }
}

/** Frames per captured interface: the function the lead's comparison calls. */
export async function captureRealTopology(spec: RealTopologySpec): Promise<Record<string, DecodedFrame[]>> {
  return (await runRealTopology(spec)).frames;
}

interface Capture {
  readonly ns: string;
  readonly file: string;
  readonly child: ChildProcess;
  readonly names: Map<string, string>;
  readonly exited: Promise<void>;
}

class Topology {
  private readonly namespaces: string[] = [];
  private readonly children: ChildProcess[] = [];
  private readonly captures: Capture[] = [];
  private readonly dir = mkdtempSync(join(tmpdir(), 'kpath-pd-capture-'));
  private readonly mac;
  private readonly overlayMtu: number;
  private readonly underlayMtu: number;

  constructor(
    private readonly spec: RealTopologySpec,
    private readonly prefix: string,
  ) {
    this.mac = spec.mac ?? defaultMacScheme(spec);
    this.underlayMtu = spec.underlayMtu ?? 1500;
    this.overlayMtu = spec.overlayMtu ?? this.underlayMtu - 50;
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

  private locatePod(name: string): { node: NodeSpec; i: number; j: number } {
    for (const [i, node] of this.spec.nodes.entries()) {
      const j = node.pods.findIndex((p) => p.name === name);
      if (j >= 0) return { node, i, j };
    }
    throw new Error(`podnet-diff: no pod named ${name}`);
  }

  private async addNs(name: string): Promise<void> {
    await must('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
  }

  /** `ip -n NS -batch -` (or `bridge`): one process for a namespace's list of commands. */
  private async batch(tool: 'ip' | 'bridge', ns: string, lines: readonly string[]): Promise<void> {
    const r = await exec(tool, ['-n', ns, '-batch', '-'], 10_000, `${lines.join('\n')}\n`);
    if (r.code !== 0)
      throw new Error(`${tool} -n ${ns} -batch failed (${r.code}): ${r.stderr.trim()}\n${lines.join('\n')}`);
  }

  async build(): Promise<void> {
    const s = this.spec;
    const vni = s.vni ?? 1;
    const port = s.vxlanPort ?? 8472;
    const u = this.underlayNs();
    const all = [u];
    for (const [i, node] of s.nodes.entries()) {
      all.push(this.nodeNs(i));
      for (const j of node.pods.keys()) all.push(this.podNs(i, j));
    }
    for (const ns of all) await this.addNs(ns);
    // No IPv6 (router solicitations and MLD reports would land in every capture); nodes forward.
    await Promise.all(
      all.map((ns) =>
        must('ip', [
          'netns',
          'exec',
          ns,
          'sysctl',
          '-qw',
          'net.ipv6.conf.all.disable_ipv6=1',
          'net.ipv6.conf.default.disable_ipv6=1',
          ...(ns.endsWith('-u') || /p\d+$/.test(ns) ? [] : ['net.ipv4.ip_forward=1']),
        ]),
      ),
    );
    const mtuU = this.underlayMtu;
    const mtuO = this.overlayMtu;
    // The underlay: a bridge with one veth per node; the node ends become the nodes' eth0.
    const under = ['link add br0 type bridge', 'link set br0 up'];
    for (const i of s.nodes.keys()) {
      under.push(`link add n${i} mtu ${mtuU} type veth peer name eth0 netns ${this.nodeNs(i)}`);
      under.push(`link set n${i} master br0 up`);
    }
    under.push('link set lo up');
    await this.batch('ip', u, under);
    await Promise.all(
      s.nodes.map(async (node, i) => {
        const n = this.nodeNs(i);
        const ctx = { nodeIndex: i };
        const cmds = [
          'link set lo up',
          `link set eth0 address ${this.mac({ kind: 'node-eth0', node: node.name }, ctx)} mtu ${mtuU}`,
          `addr add ${node.ip}/24 dev eth0`,
          'link set eth0 up',
          // cni0 with the subnet's .1 (the bridge plugin with isGateway).
          'link add cni0 type bridge',
          `link set cni0 address ${this.mac({ kind: 'cni0', node: node.name }, ctx)} mtu ${mtuO}`,
          `addr add ${gatewayAddress(node)}/24 dev cni0`,
          'link set cni0 up',
          // flannel.1 as flanneld creates it (pkg/backend/vxlan/device.go).
          `link add flannel.1 type vxlan id ${vni} local ${node.ip} dev eth0 dstport ${port} nolearning`,
          `link set flannel.1 address ${this.mac({ kind: 'flannel.1', node: node.name }, ctx)} mtu ${mtuO}`,
          `addr add ${vtepAddress(node)}/32 dev flannel.1`,
          'link set flannel.1 up',
        ];
        for (const [j, pod] of node.pods.entries()) {
          const veth = hostVethName(node, i, pod.name);
          const mtu = pod.mtu ?? mtuO;
          const pctx = { nodeIndex: i, podIndex: j };
          cmds.push(
            `link add ${veth} mtu ${mtu} type veth peer name eth0 netns ${this.podNs(i, j)}`,
            `link set ${veth} address ${this.mac({ kind: 'host-veth', node: node.name, pod: pod.name }, pctx)}`,
            `link set ${veth} master cni0 up`,
          );
        }
        // Per remote node, in flanneld's order: neighbour, FDB (below), route (pkg/backend/vxlan/vxlan_network.go).
        const fdb: string[] = [];
        const routes: string[] = [];
        for (const [k, remote] of s.nodes.entries()) {
          if (k === i) continue;
          const rmac = this.mac({ kind: 'flannel.1', node: remote.name }, { nodeIndex: k });
          const vtep = vtepAddress(remote);
          cmds.push(`neigh add ${vtep} lladdr ${rmac} dev flannel.1 nud permanent`);
          fdb.push(`fdb add ${rmac} dev flannel.1 dst ${remote.ip} self permanent`);
          routes.push(`route add ${remote.podCidr} via ${vtep} dev flannel.1 onlink`);
        }
        await this.batch('ip', n, cmds);
        if (fdb.length) await this.batch('bridge', n, fdb);
        if (routes.length) await this.batch('ip', n, routes);
        await Promise.all(
          node.pods.map((pod, j) =>
            this.batch('ip', this.podNs(i, j), [
              'link set lo up',
              `link set eth0 address ${this.mac({ kind: 'pod-eth0', node: node.name, pod: pod.name }, { nodeIndex: i, podIndex: j })} mtu ${pod.mtu ?? mtuO}`,
              `addr add ${podAddress(node, pod.name)}/24 dev eth0`,
              'link set eth0 up',
              `route add default via ${gatewayAddress(node)}`,
            ]),
          ),
        );
      }),
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
          await this.batch('ip', this.podNs(i, j), [
            `neigh replace ${gatewayAddress(node)} lladdr ${cni0} dev eth0 nud reachable`,
          ]);
        }
        if (cmds.length) await this.batch('ip', this.nodeNs(i), cmds);
      }),
    );
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

  /** One dumpcap per namespace, on all of that namespace's chosen devices; resolves once all are capturing. */
  async startCaptures(): Promise<void> {
    const byNs = new Map<string, Map<string, string>>();
    for (const c of this.spec.capture) {
      const { ns, device } = this.nsOf(c);
      if (!byNs.has(ns)) byNs.set(ns, new Map());
      byNs.get(ns)!.set(device, captureName(this.spec, c));
    }
    const ready: Promise<void>[] = [];
    for (const [ns, names] of byNs) {
      const file = join(this.dir, `${ns}.pcapng`);
      const args = ['netns', 'exec', ns, 'dumpcap', '-q', '-n', '-w', file];
      for (const d of names.keys()) args.push('-i', d);
      const child = spawn('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
      this.children.push(child);
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      this.captures.push({ ns, file, child, names, exited });
      ready.push(
        new Promise((resolve, reject) => {
          let err = '';
          const timer = setTimeout(() => reject(new Error(`dumpcap in ${ns} did not start: ${err}`)), 8000);
          child.stderr!.on('data', (b: Buffer) => {
            err += b.toString();
            // dumpcap says "Capturing on 'eth0'" (and "File: ...") once the devices are open.
            if (/Capturing on/.test(err) || /File: /.test(err)) {
              clearTimeout(timer);
              resolve();
            }
          });
          child.once('exit', (code) => {
            clearTimeout(timer);
            reject(new Error(`dumpcap in ${ns} exited (${code}): ${err.trim()}`));
          });
        }),
      );
    }
    await Promise.all(ready);
    // dumpcap reports before its first read; give the capture a moment to be live.
    await new Promise((r) => setTimeout(r, 200));
  }

  async stopCaptures(): Promise<{
    frames: Record<string, DecodedFrame[]>;
    raw: Record<string, Uint8Array[]>;
  }> {
    const out: Record<string, DecodedFrame[]> = {};
    const bytes: Record<string, Uint8Array[]> = {};
    for (const c of this.captures) {
      c.child.kill('SIGTERM');
      await c.exited;
      const read = decodePcapng(new Uint8Array(readFileSync(c.file)));
      for (const p of read.packets) {
        const name = c.names.get(p.interfaceName);
        if (name !== undefined) bytes[name] = [...(bytes[name] ?? []), p.data];
      }
      Object.assign(
        out,
        framesByInterface(read, (name) => c.names.get(name), { vxlanPorts: [this.spec.vxlanPort ?? 8472] }),
      );
    }
    // In the order the spec listed the capture points.
    const frames: Record<string, DecodedFrame[]> = {};
    const raw: Record<string, Uint8Array[]> = {};
    for (const c of this.spec.capture) {
      const name = captureName(this.spec, c);
      frames[name] = out[name] ?? [];
      raw[name] = bytes[name] ?? [];
    }
    return { frames, raw };
  }

  private target(to: string): string {
    if (/^\d+\.\d+\.\d+\.\d+$/.test(to)) return to;
    const { node } = this.locatePod(to);
    return podAddress(node, to);
  }

  async send(s: Send): Promise<SendResult> {
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
        '-W1',
        '-s',
        String(s.size),
        '-M',
        s.df ? 'do' : 'dont',
        dst,
      ]);
      return { send: s, code: r.code, output: r.stdout + r.stderr };
    }
    const server = this.locatePod(s.to);
    const sns = this.podNs(server.i, server.j);
    const srv = spawn(
      'ip',
      ['netns', 'exec', sns, process.execPath, '-e', ECHO_SERVER, s.kind, String(s.port)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.children.push(srv);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('echo server did not start')), 8000);
      srv.stdout!.once('data', () => {
        clearTimeout(t);
        resolve();
      });
      srv.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`echo server exited (${code})`));
      });
    });
    const r = await exec('ip', [
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
    ]);
    // TCP: wait for the server to see the close, so the FIN exchange is in the capture.
    await new Promise((res) => setTimeout(res, 100));
    srv.kill('SIGTERM');
    return { send: s, code: r.code, output: r.stdout + r.stderr };
  }

  async destroy(): Promise<void> {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const ns of [...this.namespaces].reverse()) await exec('ip', ['netns', 'del', ns]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Echo server: `tcp|udp PORT`; prints "ready" once listening. */
const ECHO_SERVER = `
const [kind, port] = process.argv.slice(1);
if (kind === 'tcp') {
  const srv = require('node:net').createServer((s) => { s.on('data', (d) => s.write(d)); s.on('end', () => s.end()); });
  srv.listen(Number(port), '0.0.0.0', () => console.log('ready'));
} else {
  const u = require('node:dgram').createSocket('udp4');
  u.on('message', (m, r) => u.send(m, r.port, r.address));
  u.bind(Number(port), '0.0.0.0', () => console.log('ready'));
}`;

/** Client: `tcp|udp DST PORT SPORT BYTES`; exits 0 once the echo came back, 1 after a second without it. */
const CLIENT = `
const [kind, dst, port, sport, bytes] = process.argv.slice(1);
const payload = Buffer.alloc(Number(bytes), 0x61);
setTimeout(() => { console.log('timeout'); process.exit(1); }, 1000);
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
