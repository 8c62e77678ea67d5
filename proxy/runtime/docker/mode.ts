/**
 * The decision seam for Docker hosts: a ProxyMode whose answer is the emulated host's (cni/docker
 * traceDocker, the one walker). A connection to a published port, a gateway's or the host's
 * address is walked through the host's iptables and bridges as its first packet; docker-proxy takes
 * it where the kernel hands it to a host socket. The endpoint is where the last packet was
 * delivered in a container, the source the one that container sees.
 *
 * Listener targets carry the Docker host's name as their entry node and `docker/HOST:PORT/proto`
 * as their key. Who the client is, from its model address: a container's address is that
 * container; a node process (127.0.0.1) or one of the host's own addresses is the host; anything
 * else is a client beyond eth0.
 */

import { type DockerHostState, type DockerSource, traceDocker } from '../../../cni/docker/index.js';
import { parseIP } from '../../../netmodel/addr.js';
import type { ClusterSnapshot } from '../../../netmodel/cluster/index.js';
import { SeededRng } from '../../../netmodel/rng.js';
import type { AffinityEntry, Decision, FlowRequest, ModeEndpoints, ProxyMode } from '../modes/types.js';

/** The key of a published port's listener target. */
export function dockerServicePort(host: string, port: number, proto: string): string {
  return `docker/${host}:${port}/${proto}`;
}

export function clientSource(st: DockerHostState, flow: FlowRequest): DockerSource {
  if (flow.clientIsNodeProcess) return { kind: 'host' };
  const c = st.containerByAddress(flow.client.ip.text);
  if (c) return { kind: 'container', name: c.name };
  if (st.host.isLocal(flow.client.ip)) return { kind: 'host' };
  return { kind: 'outside', ip: flow.client.ip };
}

export class DockerMode implements ProxyMode {
  readonly name = 'iptables' as const;
  readonly dialTimeoutsMs = [5_000] as const;
  private readonly rng = new SeededRng(1);

  constructor(
    private readonly hosts: () => ReadonlyMap<string, DockerHostState>,
    private readonly now: () => number,
  ) {}

  sync(_snap: ClusterSnapshot): void {}

  decide(flow: FlowRequest): Decision {
    const st = this.hosts().get(flow.entryNode);
    if (!st) return { kind: 'reject', reason: `no Docker host ${flow.entryNode}` };
    const proto = flow.protocol === 'TCP' ? 'tcp' : 'udp';
    const t = traceDocker(
      st,
      clientSource(st, flow),
      flow.destination.ip,
      flow.destination.port,
      proto,
      { now: this.now(), rng: this.rng, trace: false },
      flow.client.port || 40000,
    );
    const a = t.arrived;
    const end = t.legs[t.legs.length - 1]!.travel.end;
    if (a.kind === 'container' && end.kind === 'socket') {
      const from = a.from.slice(0, a.from.lastIndexOf(':'));
      return {
        kind: 'forward',
        endpoint: { ip: end.packet.dst, port: end.packet.dport },
        source: parseIP(from),
      };
    }
    if (a.kind === 'host')
      return {
        kind: 'reject',
        reason: `delivered to the host ${st.plan.host.name} itself, where nothing listens on ${flow.destination.ip.text}:${flow.destination.port}`,
      };
    if (a.kind === 'outside')
      return { kind: 'drop', reason: `the packet leaves ${st.plan.host.name} towards ${a.nextHop}` };
    if (a.kind === 'stopped') return { kind: 'drop', reason: `stopped in ${a.ns}: ${a.reason}` };
    return { kind: 'reject', reason: 'the connection reached no container' };
  }

  housekeeping(now: number): void {
    for (const st of this.hosts().values()) st.host.conntrack.gc(now);
  }

  affinity(): AffinityEntry[] {
    return [];
  }

  endpoints(): ModeEndpoints[] {
    return [];
  }

  close(): void {}
}
