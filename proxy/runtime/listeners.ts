/**
 * Service listeners: one socket per (protocol, loopback address, port) the cluster exposes.
 *   ClusterIP         -> the cluster IP's twin (127.96.x.y:port)
 *   NodePort          -> every node's twin and 127.0.0.1, at the node port
 *   externalIPs, LB   -> their twins
 * Headless and ExternalName services get none. Reconciling keeps a socket whose key is unchanged
 * (only its target is swapped), closes removed ones (accepted TCP connections keep running; a UDP
 * socket's flows end with it) and opens new ones.
 */

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import type { ClusterSnapshot } from '../../netmodel/cluster/index.js';
import type { KpathError } from '../../netmodel/errors.js';
import type { TwinMap } from '../../netmodel/twins.js';
import { nativeAddon } from '../native/load.js';
import { listenError } from './bind-errors.js';
import { type ForwardContext, keepAliveSeconds, type ListenerTarget } from './forward-context.js';
import { handleTcp, handleTcpFd } from './forward-tcp.js';
import { UdpForwarder } from './forward-udp.js';

export interface ListenerSpec {
  readonly key: string;
  readonly host: string;
  readonly port: number;
  readonly target: ListenerTarget;
}

export interface ListenerInfo {
  readonly address: string;
  readonly protocol: 'TCP' | 'UDP';
  readonly servicePort: string;
  readonly entry: string;
  readonly destination: string;
}

/**
 * Every listener the snapshot asks for. Conflicts: the first claim wins, the rest are reported.
 * `localhostNodePorts`: whether the proxy mode answers NodePorts on 127.0.0.1 (iptables: the
 * KubeProxyConfiguration's localhostNodePorts; ipvs: never, kube-proxy gives loopback addresses no
 * virtual server; userspace: yes). Without it nothing listens there, so the client is refused as on
 * a real node.
 */
export function desiredListeners(
  snap: ClusterSnapshot,
  twins: TwinMap,
  defaultNode: string,
  localhostNodePorts = true,
): { specs: Map<string, ListenerSpec>; conflicts: string[] } {
  const specs = new Map<string, ListenerSpec>();
  const conflicts: string[] = [];
  const add = (host: string | undefined, port: number, target: ListenerTarget) => {
    if (!host) return;
    const key = `${target.protocol}|${host}|${port}`;
    const prev = specs.get(key);
    if (prev) {
      if (prev.target.servicePort !== target.servicePort) {
        conflicts.push(
          `Port conflict detected: ${host}:${port}/${target.protocol} is claimed by ${prev.target.servicePort} and ${target.servicePort}`,
        );
      }
      return;
    }
    specs.set(key, { key, host, port, target });
  };
  const nodes = snap.nodes
    .map((n) => ({ name: n.meta.name, ip: n.internalIPs.find((x) => x.family === 4) }))
    .filter((n) => n.ip);
  const defIP = nodes.find((n) => n.name === defaultNode)?.ip;
  for (const svc of snap.services) {
    if (svc.type === 'ExternalName' || svc.headless) continue;
    for (const sp of svc.ports) {
      if (sp.protocol === 'SCTP') continue;
      const protocol = sp.protocol;
      const servicePort = `${svc.meta.namespace}/${svc.meta.name}:${sp.name}`;
      const label = `${svc.meta.namespace}/${svc.meta.name}:${sp.name || sp.port}`;
      for (const ip of svc.clusterIPs) {
        add(twins.toLoopback(ip)?.text, sp.port, {
          servicePort,
          label,
          protocol,
          destination: { ip, port: sp.port },
          entry: 'ClusterIP',
        });
      }
      if (sp.nodePort) {
        for (const n of nodes) {
          add(twins.toLoopback(n.ip!)?.text, sp.nodePort, {
            servicePort,
            label,
            protocol,
            destination: { ip: n.ip!, port: sp.nodePort },
            entry: 'NodePort',
            entryNode: n.name,
          });
        }
        if (defIP && localhostNodePorts)
          add('127.0.0.1', sp.nodePort, {
            servicePort,
            label,
            protocol,
            destination: { ip: defIP, port: sp.nodePort },
            entry: 'NodePort',
          });
      }
      for (const ip of svc.externalIPs) {
        add(twins.toLoopback(ip)?.text, sp.port, {
          servicePort,
          label,
          protocol,
          destination: { ip, port: sp.port },
          entry: 'ExternalIP',
        });
      }
      for (const ip of svc.loadBalancerIngress) {
        add(twins.toLoopback(ip)?.text, sp.port, {
          servicePort,
          label,
          protocol,
          destination: { ip, port: sp.port },
          entry: 'LoadBalancer',
        });
      }
    }
  }
  return { specs, conflicts };
}

interface Live {
  spec: ListenerSpec;
  server?: Server;
  /** A native listener's handle (native/src/tcp_sockets.c). */
  native?: unknown;
  udp?: UdpSocket;
  forwarder?: UdpForwarder;
}

export class Listeners {
  private readonly live = new Map<string, Live>();

  constructor(
    private readonly ctx: ForwardContext,
    private readonly highWaterMark: number,
  ) {}

  /** End the UDP relays of flows kube-proxy's conntrack cleanup deleted (ProxyMode.clearedUdp). */
  endClearedUdp(cleared: ReadonlySet<string>): void {
    for (const l of this.live.values()) l.forwarder?.endCleared(cleared);
  }

  /** Open, keep or close listeners to match `specs`. Returns the binds that failed (the rest are up). */
  async reconcile(specs: Map<string, ListenerSpec>): Promise<KpathError[]> {
    const errors: KpathError[] = [];
    for (const [key, l] of [...this.live]) {
      if (!specs.has(key)) {
        this.live.delete(key);
        await this.closeOne(l);
        this.ctx.log.info(
          {
            address: `${l.spec.host}:${l.spec.port}`,
            protocol: l.spec.target.protocol,
            svc: l.spec.target.label ?? l.spec.target.servicePort,
          },
          'listener closed',
        );
      }
    }
    const opening: Promise<void>[] = [];
    for (const [key, spec] of specs) {
      const l = this.live.get(key);
      if (l) {
        l.spec = spec;
        if (l.forwarder) l.forwarder.target = spec.target;
        continue;
      }
      opening.push(
        this.openOne(spec).then(
          (live) => {
            this.live.set(key, live);
            this.ctx.log.info(
              {
                address: `${spec.host}:${spec.port}`,
                protocol: spec.target.protocol,
                svc: spec.target.label ?? spec.target.servicePort,
                entry: spec.target.entry,
              },
              'listener opened',
            );
          },
          (e: KpathError) => {
            errors.push(e);
            this.ctx.log.error(
              {
                address: `${spec.host}:${spec.port}`,
                protocol: spec.target.protocol,
                svc: spec.target.label ?? spec.target.servicePort,
                err: e.message,
              },
              'listener failed',
            );
          },
        ),
      );
    }
    await Promise.all(opening);
    return errors;
  }

  private openOne(spec: ListenerSpec): Promise<Live> {
    const what = `${spec.target.entry} of ${spec.target.servicePort}`;
    const addon = this.ctx.limits.nativeRelay ? nativeAddon() : undefined;
    if (spec.target.protocol === 'TCP' && addon) {
      // Connections arrive as descriptors: no net.Socket per connection (see forward-tcp.ts).
      const live: Live = { spec };
      try {
        live.native = addon.tcpListen(
          spec.host,
          spec.port,
          511,
          (fd, host, port) => handleTcpFd(this.ctx, live.spec.target, fd, host, port),
          keepAliveSeconds(this.ctx.limits),
        ).handle;
      } catch (e) {
        return Promise.reject(listenError(spec.host, spec.port, 'TCP', what, e as NodeJS.ErrnoException));
      }
      return Promise.resolve(live);
    }
    if (spec.target.protocol === 'TCP') {
      const live: Live = { spec };
      const server = createServer({
        allowHalfOpen: true,
        pauseOnConnect: true,
        noDelay: true,
        highWaterMark: this.highWaterMark,
      } as Parameters<typeof createServer>[0]);
      server.on('connection', (sock) => handleTcp(this.ctx, live.spec.target, sock));
      return new Promise((resolve, reject) => {
        server.once('error', (e: NodeJS.ErrnoException) =>
          reject(listenError(spec.host, spec.port, 'TCP', what, e)),
        );
        server.listen({ host: spec.host, port: spec.port, backlog: 511 }, () => {
          server.removeAllListeners('error');
          server.on('error', (e) =>
            this.ctx.log.error({ err: e.message, address: `${spec.host}:${spec.port}` }, 'listener error'),
          );
          live.server = server;
          resolve(live);
        });
      });
    }
    return new Promise((resolve, reject) => {
      const udp = createSocket({ type: 'udp4' });
      udp.once('error', (e: NodeJS.ErrnoException) => {
        udp.close();
        reject(listenError(spec.host, spec.port, 'UDP', what, e));
      });
      udp.bind({ address: spec.host, port: spec.port, exclusive: true }, () => {
        udp.removeAllListeners('error');
        udp.on('error', (e) =>
          this.ctx.log.error({ err: e.message, address: `${spec.host}:${spec.port}` }, 'listener error'),
        );
        resolve({ spec, udp, forwarder: new UdpForwarder(this.ctx, udp, spec.target) });
      });
    });
  }

  private closeOne(l: Live): Promise<void> {
    if (l.native !== undefined) {
      // Stops accepting; connections already accepted keep running.
      nativeAddon()!.tcpListenClose(l.native);
      return Promise.resolve();
    }
    if (l.server) {
      const s = l.server;
      // server.close() stops accepting; connections already accepted keep running.
      return new Promise((resolve) => s.close(() => resolve()));
    }
    l.forwarder?.closeAll();
    l.udp?.close();
    return Promise.resolve();
  }

  list(): ListenerInfo[] {
    return [...this.live.values()]
      .map((l) => ({
        address: `${l.spec.host}:${l.spec.port}`,
        protocol: l.spec.target.protocol,
        servicePort: l.spec.target.servicePort,
        entry: l.spec.target.entry,
        destination: `${l.spec.target.destination.ip.text}:${l.spec.target.destination.port}`,
      }))
      .sort((a, b) =>
        a.address < b.address ? -1 : a.address > b.address ? 1 : a.protocol < b.protocol ? -1 : 1,
      );
  }

  /** Close every listener (connections already accepted are left to drain). */
  async closeAll(): Promise<void> {
    const all = [...this.live.values()];
    this.live.clear();
    await Promise.all(all.map((l) => this.closeOne(l)));
  }
}
