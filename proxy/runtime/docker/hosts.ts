/**
 * Docker hosts served for real on loopback, next to the cluster (`kpath up` with a DockerHost):
 *
 *   containers       each container's ports (published container ports and --expose) served by
 *                    the built-in echo server on the twin of its address (172.17.0.2 -> 127.17.0.2)
 *   published ports  a listener per (address, host port, proto), forwarding as the emulated host
 *                    decides (DockerMode: the DNAT rules, or docker-proxy where the kernel hands the
 *                    connection to it), from the source the container would see:
 *                      -p 8080:80            127.0.0.1, the host address's twin (if it has one)
 *                                            and every bridge gateway's twin (how containers reach it)
 *                      -p 127.0.0.1:8080:80  that loopback address
 *                      -p HOSTIP:8080:80     HOSTIP's twin
 *   embedded DNS     UDP 127.0.0.11:53: container names (and NAME.NETWORK) on the asker's
 *                    user-defined network, as libnetwork's resolver answers them, with twins
 *
 * The forwarding is the cluster runtime's own (Listeners, forward-tcp/udp, the live conntrack table)
 * with DockerMode at its decision seam: no second proxy.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import type { Logger } from 'pino';
import {
  buildDockerHost,
  type DockerHostState,
  EMBEDDED_DNS,
  embeddedDnsReply,
} from '../../../cni/docker/index.js';
import { type IP, tryParseIP } from '../../../netmodel/addr.js';
import type { Clock } from '../../../netmodel/clock.js';
import type { ClusterSnapshot } from '../../../netmodel/cluster/index.js';
import { planDockerHost } from '../../../netmodel/docker/index.js';
import type { KpathError } from '../../../netmodel/errors.js';
import type { TwinMap } from '../../../netmodel/twins.js';
import { listenError } from '../bind-errors.js';
import type { LiveConntrack } from '../conntrack.js';
import type { ForwardContext, ForwardLimits } from '../forward-context.js';
import { type ListenerInfo, type ListenerSpec, Listeners } from '../listeners.js';
import type { RuntimeMetrics } from '../metrics.js';
import { EchoContainer } from '../pods/echo.js';
import { DockerMode, dockerServicePort } from './mode.js';

export interface DockerHostsOptions {
  readonly conntrack: LiveConntrack;
  readonly metrics: RuntimeMetrics;
  readonly log: Logger;
  readonly clock: Clock;
  readonly limits: ForwardLimits;
  readonly open: ForwardContext['open'];
  /** Where the embedded DNS listens (default 127.0.0.11:53; port 0 picks one; null: none). */
  readonly dns?: { readonly host: string; readonly port: number } | null;
  /** The address that serves the hosts' 127.0.0.1 (default 127.0.0.1). */
  readonly localhost?: string;
}

export interface DockerContainerStatus {
  readonly host: string;
  readonly name: string;
  readonly ip: string;
  readonly loopbackIP: string;
  readonly ports: readonly string[];
}

interface Running {
  readonly key: string;
  readonly echo: EchoContainer;
  readonly status: DockerContainerStatus;
}

/** Every listener the Docker hosts ask for (first claim of an address and port wins). */
export function dockerListeners(
  states: ReadonlyMap<string, DockerHostState>,
  twins: TwinMap,
  localhost = '127.0.0.1',
): { specs: Map<string, ListenerSpec>; conflicts: string[] } {
  const specs = new Map<string, ListenerSpec>();
  const conflicts: string[] = [];
  for (const [name, st] of states) {
    const hostIP = st.plan.host.address.ip;
    for (const c of st.plan.containers)
      for (const b of c.ports) {
        if (b.proto === 'sctp') continue;
        const protocol = b.proto === 'tcp' ? 'TCP' : 'UDP';
        const servicePort = dockerServicePort(name, b.hostPort, b.proto);
        const label = `${name} ${c.name} ${b.hostIP}:${b.hostPort}->${b.containerPort}/${b.proto}`;
        const at: { host: string | undefined; model: IP }[] = [];
        const loop = tryParseIP('127.0.0.1')!;
        if (b.hostIP === '0.0.0.0') {
          at.push({ host: localhost, model: loop });
          at.push({ host: twins.toLoopback(hostIP)?.text, model: hostIP });
          for (const n of st.plan.networks)
            at.push({ host: twins.toLoopback(n.gateway)?.text, model: n.gateway });
        } else {
          const ip = tryParseIP(b.hostIP);
          if (ip?.family === 4)
            at.push({
              host:
                b.hostIP === '127.0.0.1'
                  ? localhost
                  : b.hostIP.startsWith('127.')
                    ? b.hostIP
                    : twins.toLoopback(ip)?.text,
              model: ip,
            });
        }
        for (const a of at) {
          if (!a.host) continue;
          const key = `${protocol}|${a.host}|${b.hostPort}`;
          const prev = specs.get(key);
          if (prev) {
            if (prev.target.servicePort !== servicePort)
              conflicts.push(
                `Port conflict: ${a.host}:${b.hostPort}/${protocol} is claimed by ${prev.target.label} and ${label}`,
              );
            continue;
          }
          specs.set(key, {
            key,
            host: a.host,
            port: b.hostPort,
            target: {
              servicePort,
              label,
              protocol,
              destination: { ip: a.model, port: b.hostPort },
              entry: 'NodePort',
              entryNode: name,
            },
          });
        }
      }
  }
  return { specs, conflicts };
}

export class DockerHosts {
  private states = new Map<string, DockerHostState>();
  private twins: TwinMap | undefined;
  private readonly running = new Map<string, Running>();
  private readonly listeners: Listeners;
  private readonly log: Logger;
  private dns: UdpSocket | undefined;
  private dnsAddress: string | undefined;

  constructor(private readonly opts: DockerHostsOptions) {
    this.log = opts.log;
    const mode = new DockerMode(
      () => this.states,
      () => opts.clock.now(),
    );
    const ctx: ForwardContext = {
      mode: () => mode,
      twins: () => this.twins!,
      nodeOf: () => undefined,
      nodeIP: (name) => this.states.get(name)?.plan.host.address.ip,
      defaultNode: () => this.states.keys().next().value ?? '',
      conntrack: opts.conntrack,
      metrics: opts.metrics,
      log: opts.log,
      clock: opts.clock,
      limits: opts.limits,
      open: opts.open,
    };
    this.mode = mode;
    this.listeners = new Listeners(ctx, opts.limits.highWaterMark);
  }

  readonly mode: DockerMode;

  /** Serve the snapshot's Docker hosts: containers, published ports, the embedded DNS. */
  async sync(snap: ClusterSnapshot, twins: TwinMap): Promise<KpathError[]> {
    this.twins = twins;
    const states = new Map<string, DockerHostState>();
    for (const h of snap.dockerHosts) states.set(h.name, buildDockerHost(planDockerHost(h).plan));
    this.states = states;
    const errors: KpathError[] = [];
    const want = new Map<string, { st: DockerHostState; c: DockerHostState['plan']['containers'][number] }>();
    for (const st of states.values())
      for (const c of st.plan.containers) {
        const twin = twins.toLoopback(c.ip);
        if (!twin) {
          this.log.warn(
            { host: st.plan.host.name, container: c.name, ip: c.ip.text },
            'container address has no loopback twin; emulated only',
          );
          continue;
        }
        const key = `${st.plan.host.name}/${c.name}|${c.ip.text}|${twin.text}|${c.network.gateway.text}|${c.listens
          .map((l) => `${l.port}/${l.proto}`)
          .join(',')}`;
        want.set(key, { st, c });
      }
    for (const [key, r] of [...this.running])
      if (!want.has(key)) {
        this.running.delete(key);
        await r.echo.stop();
        this.log.info({ host: r.status.host, container: r.status.name }, 'container stopped');
      }
    for (const [key, { st, c }] of want) {
      if (this.running.has(key)) continue;
      const twin = twins.toLoopback(c.ip)!.text;
      const echo = new EchoContainer(
        {
          pod: c.name,
          namespace: '',
          node: st.plan.host.name,
          podIP: c.ip.text,
          // A process on the host reaches a container from its bridge's address.
          nodeIP: c.network.gateway.text,
          loopbackIP: twin,
        },
        c.image,
        c.listens
          .filter((l) => l.proto !== 'sctp')
          .map((l) => ({ containerPort: l.port, protocol: l.proto === 'tcp' ? 'TCP' : 'UDP' })),
        twins,
      );
      try {
        await echo.start();
      } catch (e) {
        errors.push(e as KpathError);
        continue;
      }
      const status: DockerContainerStatus = {
        host: st.plan.host.name,
        name: c.name,
        ip: c.ip.text,
        loopbackIP: twin,
        ports: c.listens.map((l) => `${l.port}/${l.proto}`),
      };
      this.running.set(key, { key, echo, status });
      this.log.info(
        { host: status.host, container: c.name, ip: c.ip.text, loopback: twin, ports: status.ports },
        'container started',
      );
    }
    const { specs, conflicts } = dockerListeners(states, twins, this.opts.localhost);
    for (const c of conflicts) this.log.warn(c);
    errors.push(...(await this.listeners.reconcile(specs)));
    const needDns = [...states.values()].some((st) => st.plan.containers.some((c) => !c.network.isDefault));
    if (needDns && !this.dns && this.opts.dns !== null) {
      try {
        await this.openDns();
      } catch (e) {
        // Another program (or a second kpath up) holds it: names still resolve in kpath docker trace.
        this.log.warn({ err: (e as Error).message }, 'embedded DNS not served');
      }
    }
    return errors;
  }

  private openDns(): Promise<void> {
    const at = this.opts.dns ?? { host: EMBEDDED_DNS, port: 53 };
    return new Promise((resolve, reject) => {
      const udp = createSocket({ type: 'udp4' });
      udp.once('error', (e: NodeJS.ErrnoException) => {
        udp.close();
        reject(listenError(at.host, at.port, 'UDP', 'the embedded DNS of Docker networks', e));
      });
      udp.bind({ address: at.host, port: at.port, exclusive: true }, () => {
        udp.removeAllListeners('error');
        udp.on('error', (e) => this.log.error({ err: e.message }, 'embedded DNS socket error'));
        udp.on('message', (msg, rinfo) => this.answer(udp, msg, rinfo.address, rinfo.port));
        this.dns = udp;
        const a = udp.address();
        this.dnsAddress = `${a.address}:${a.port}`;
        this.log.info({ address: this.dnsAddress }, 'embedded DNS listening');
        resolve();
      });
    });
  }

  private answer(udp: UdpSocket, msg: Buffer, address: string, port: number): void {
    try {
      const real = tryParseIP(address);
      const model = real && this.twins ? this.twins.toModel(real) : undefined;
      let st: DockerHostState | undefined;
      let from: string | undefined;
      for (const s of this.states.values()) {
        const c = model ? s.containerByAddress(model.text) : undefined;
        if (c) {
          st = s;
          from = c.name;
          break;
        }
      }
      st ??= this.states.values().next().value;
      if (!st) return;
      const t = this.twins!;
      const reply = embeddedDnsReply(st, from, msg, (ip) => t.toLoopback(ip)?.text ?? ip.text);
      if (reply) udp.send(reply, port, address);
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'embedded DNS could not answer');
    }
  }

  /** The host state a trace or `kpath curl` would use (the one being served). */
  state(name: string): DockerHostState | undefined {
    return this.states.get(name);
  }

  list(): ListenerInfo[] {
    return this.listeners.list();
  }

  containers(): DockerContainerStatus[] {
    return [...this.running.values()].map((r) => r.status);
  }

  embeddedDns(): string | undefined {
    return this.dnsAddress;
  }

  housekeeping(now: number): void {
    this.mode.housekeeping(now);
  }

  /** Stop accepting on the published ports (connections already accepted keep running). */
  closeListeners(): Promise<void> {
    return this.listeners.closeAll();
  }

  async stop(): Promise<void> {
    await this.listeners.closeAll();
    for (const r of this.running.values()) await r.echo.stop();
    this.running.clear();
    this.dns?.close();
    this.dns = undefined;
  }
}
