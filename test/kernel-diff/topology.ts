/**
 * The real side of the harness: three network namespaces wired as topology-plan.ts draws them, the
 * long-lived helper processes inside them, and the commands run in the router namespace
 * (iptables-restore, iptables-save -c, conntrack -L/-F).
 *
 * Everything lives in namespaces named `kpath-kt-<pid>-{c,r,s}`; nothing touches the host's own
 * interfaces. `cleanupStale` removes namespaces left behind by harness processes that are gone.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  cleanupStaleNamespaces,
  type Exec,
  exec,
  must,
  Namespaces,
  netnsUnavailable,
} from '../helpers/netns.js';
import { CLIENT_ADDRS, ROUTER_ADDRS, SERVER_ADDRS, TCP_PORTS, UDP_PORTS } from './topology-plan.js';

export { type Exec, exec };
export const NS_PREFIX = 'kpath-kt-';
const HELPERS = join(dirname(fileURLToPath(import.meta.url)), 'helpers');

/** Why the harness cannot run here, or undefined when it can. */
export function unavailableReason(): Promise<string | undefined> {
  return netnsUnavailable(NS_PREFIX, 'creating network namespaces and loading iptables rules', [
    ['ip', 'iproute2'],
    ['iptables-restore', 'iptables'],
    ['iptables-save', 'iptables'],
    ['conntrack', 'conntrack'],
  ]);
}

/** Deletes namespaces with our prefix whose owning process is gone. */
export function cleanupStale(): Promise<void> {
  return cleanupStaleNamespaces(NS_PREFIX);
}

type Msg = Record<string, unknown> & { ev: string };

/** A helper process in a namespace speaking JSON lines. */
export class Helper {
  private readonly child: ChildProcess;
  private readonly waiters: { pred: (m: Msg) => boolean; resolve: (m: Msg) => void }[] = [];
  private readonly listeners: ((m: Msg) => void)[] = [];
  private stderr = '';
  private exited = false;

  constructor(
    readonly ns: string,
    script: string,
    args: readonly string[],
  ) {
    this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, join(HELPERS, script), ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stderr?.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.child.on('exit', () => {
      this.exited = true;
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      let m: Msg;
      try {
        m = JSON.parse(line) as Msg;
      } catch {
        return;
      }
      for (const l of this.listeners) l(m);
      const i = this.waiters.findIndex((w) => w.pred(m));
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(m);
    });
  }

  onMessage(l: (m: Msg) => void): void {
    this.listeners.push(l);
  }

  send(m: Record<string, unknown>): void {
    this.child.stdin?.write(`${JSON.stringify(m)}\n`);
  }

  waitFor(pred: (m: Msg) => boolean, timeoutMs: number, what: string): Promise<Msg> {
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: (m: Msg) => {
          clearTimeout(t);
          resolve(m);
        },
      };
      const t = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(
          new Error(
            `helper in ${this.ns}: no ${what} within ${timeoutMs} ms${this.exited ? ' (it exited)' : ''}: ${this.stderr.slice(-500)}`,
          ),
        );
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  stop(): void {
    if (this.exited) return;
    this.child.stdin?.end();
    this.child.kill('SIGTERM');
  }
}

export class RealTopology {
  readonly client: string;
  readonly router: string;
  readonly server: string;
  helpers: { client: Helper; router: Helper; server: Helper } | undefined;
  private readonly namespaces = new Namespaces();

  constructor(tag = String(process.pid)) {
    this.client = `${NS_PREFIX}${tag}-c`;
    this.router = `${NS_PREFIX}${tag}-r`;
    this.server = `${NS_PREFIX}${tag}-s`;
  }

  async up(): Promise<void> {
    const { client: c, router: r, server: s } = this;
    for (const ns of [c, r, s]) {
      // No SYN-ACK retransmissions: a half-open flow of one scenario must not leak into the next.
      await this.namespaces.add(ns, [
        'net.ipv6.conf.all.disable_ipv6=1',
        'net.ipv6.conf.default.disable_ipv6=1',
        'net.ipv4.tcp_synack_retries=0',
      ]);
      await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    await must('ip', ['link', 'add', 'c0', 'netns', c, 'type', 'veth', 'peer', 'name', 'r0', 'netns', r]);
    await must('ip', ['link', 'add', 's0', 'netns', s, 'type', 'veth', 'peer', 'name', 'r1', 'netns', r]);
    for (const a of CLIENT_ADDRS) await must('ip', ['-n', c, 'addr', 'add', `${a}/24`, 'dev', 'c0']);
    await must('ip', ['-n', c, 'link', 'set', 'c0', 'up']);
    await must('ip', ['-n', c, 'route', 'add', 'default', 'via', '10.10.1.1']);
    await must('ip', ['-n', r, 'addr', 'add', '10.10.1.1/24', 'dev', 'r0']);
    await must('ip', ['-n', r, 'addr', 'add', '10.10.2.1/24', 'dev', 'r1']);
    await must('ip', ['-n', r, 'addr', 'add', '10.10.2.9/24', 'dev', 'r1']);
    await must('ip', ['-n', r, 'link', 'set', 'r0', 'up']);
    await must('ip', ['-n', r, 'link', 'set', 'r1', 'up']);
    // The virtual addresses get a blackhole route: without any route the kernel answers with ICMP
    // net unreachable, but rate-limited per source by the host-wide net.ipv4.route.error_cost, which
    // the harness may not touch and the emulator does not model.
    await must('ip', ['-n', r, 'route', 'add', 'blackhole', '10.96.0.0/16']);
    await must('ip', ['netns', 'exec', r, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    // ICMP errors are rate-limited per destination (icmp_ratelimit, a token bucket in time), which
    // the emulator does not model: switch it off so every REJECT and unreachable gets its answer.
    await must('ip', ['netns', 'exec', r, 'sysctl', '-qw', 'net.ipv4.icmp_ratelimit=0']);
    await must('ip', ['netns', 'exec', r, 'sysctl', '-qw', 'net.ipv4.icmp_msgs_per_sec=100000']);
    for (const k of ['all', 'default', 'r0', 'r1'])
      await must('ip', ['netns', 'exec', r, 'sysctl', '-qw', `net.ipv4.conf.${k}.rp_filter=0`]);
    for (const a of SERVER_ADDRS) await must('ip', ['-n', s, 'addr', 'add', `${a}/24`, 'dev', 's0']);
    await must('ip', ['-n', s, 'link', 'set', 's0', 'up']);
    await must('ip', ['-n', s, 'route', 'add', 'default', 'via', '10.10.2.1']);

    const tcp = TCP_PORTS.join(',');
    const udp = UDP_PORTS.join(',');
    const helpers = {
      client: new Helper(c, 'client.mjs', []),
      router: new Helper(r, 'server.mjs', ['router', ROUTER_ADDRS.join(','), tcp, udp]),
      server: new Helper(s, 'server.mjs', ['server', SERVER_ADDRS.join(','), tcp, udp]),
    };
    this.helpers = helpers;
    await Promise.all(
      Object.values(helpers).map((h) => h.waitFor((m) => m.ev === 'ready', 15_000, 'ready message')),
    );
    // Fill the ARP caches once so that the first connection of a run is not slower than the rest.
    await exec('ip', ['netns', 'exec', c, 'ping', '-c1', '-W1', '10.10.1.1']);
    await exec('ip', ['netns', 'exec', s, 'ping', '-c1', '-W1', '10.10.2.1']);
  }

  async down(): Promise<void> {
    if (this.helpers) for (const h of Object.values(this.helpers)) h.stop();
    this.helpers = undefined;
    await this.namespaces.removeAll();
  }

  /** Runs a command inside the router namespace. */
  inRouter(cmd: string, args: readonly string[], input?: string): Promise<Exec> {
    return exec('ip', ['netns', 'exec', this.router, cmd, ...args], input);
  }

  /**
   * Only this scenario's client ports may send TCP. A connection a REJECT's ICMP error killed after
   * its handshake is closed by Node with data still queued, so the client kernel keeps it as an
   * orphan that retransmits for a while; without this, those packets would reach the router during
   * the next scenario (new conntrack entries by loose pickup, extra counts in its chains). The rule
   * lives in the client namespace; the router under test never sees it.
   */
  async onlyClientPorts(ports: readonly number[]): Promise<void> {
    await exec('ip', ['netns', 'exec', this.client, 'iptables', '-F', 'OUTPUT']);
    if (ports.length === 0) return;
    for (let i = 0; i < ports.length; i += 15) {
      // multiport takes at most 15 ports; chain the negations with RETURN for the allowed ones.
      await exec('ip', [
        'netns',
        'exec',
        this.client,
        'iptables',
        '-A',
        'OUTPUT',
        '-p',
        'tcp',
        '-m',
        'multiport',
        '--sports',
        ports.slice(i, i + 15).join(','),
        '-j',
        'ACCEPT',
      ]);
    }
    await exec('ip', ['netns', 'exec', this.client, 'iptables', '-A', 'OUTPUT', '-p', 'tcp', '-j', 'DROP']);
  }

  /** iptables-restore (flushing the tables named, counters zero). Returns stderr on failure. */
  async loadRules(text: string): Promise<string | undefined> {
    const r = await this.inRouter('iptables-restore', [], text);
    return r.code === 0 ? undefined : r.stderr.trim() || `exit ${r.code}`;
  }

  async conntrackFlush(): Promise<void> {
    await this.inRouter('conntrack', ['-F']);
  }

  async conntrackList(): Promise<string> {
    return (await this.inRouter('conntrack', ['-L'])).stdout;
  }

  async saveCounters(): Promise<string> {
    return must('ip', ['netns', 'exec', this.router, 'iptables-save', '-c']);
  }

  async recentList(name: string): Promise<string> {
    return (await this.inRouter('cat', [`/proc/net/xt_recent/${name}`])).stdout;
  }
}
