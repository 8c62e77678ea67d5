/** What the TCP and UDP forwarders share: the mode, the address plan, the live table, metrics, limits. */
import type { Logger } from 'pino';
import type { IP } from '../../netmodel/addr.js';
import type { Clock } from '../../netmodel/clock.js';
import type { TwinMap } from '../../netmodel/twins.js';
import type { LiveConntrack } from './conntrack.js';
import type { RuntimeMetrics } from './metrics.js';
import type { EntryKind, HostPort, ProxyMode } from './modes/types.js';
import type { OpenMember, SlotSet } from './slot-set.js';

/** What one listener serves; replaced in place when a reload changes nothing about the socket itself. */
export interface ListenerTarget {
  /** kube-proxy's key `ns/name:portName` (empty port name: `ns/name:`); modes are keyed by it. */
  readonly servicePort: string;
  /** For people (logs): `ns/name:portName`, or `ns/name:port` when the port is unnamed. */
  readonly label?: string;
  readonly protocol: 'TCP' | 'UDP';
  /** The model address:port the listener stands for (cluster IP, node IP:nodePort, external/LB IP). */
  readonly destination: HostPort;
  readonly entry: EntryKind;
  /** Fixed entry node (a NodePort on a node's twin); otherwise the client's node or the default node. */
  readonly entryNode?: string;
}

export interface ForwardLimits {
  /** Readable/writable high-water mark of both sockets of a connection, bytes. */
  readonly highWaterMark: number;
  /** Close a TCP connection idle in both directions this long; 0: never. */
  readonly idleTimeoutMs: number;
  /** TCP keepalive initial delay on both sockets; 0 disables keepalive. */
  readonly keepAliveMs: number;
  /** Connections (TCP) open at once; more are reset. 0: unlimited. */
  readonly maxConnections: number;
  /** How long a dropped TCP connection is held unanswered before the proxy closes it. */
  readonly dropHoldMs: number;
  /** Idle timeout of a UDP flow (kube-proxy userspace --udp-timeout, 250 ms by default). */
  readonly udpIdleTimeoutMs: number;
  /**
   * Run TCP on raw descriptors when the native addon is built: listeners accept natively, dials are
   * native, and established connections are relayed in the kernel (splice, native/src/relay.c).
   * false: node:net servers and sockets, with Node's stream pipe.
   */
  readonly nativeRelay: boolean;
}

/** The keepalive delay in whole seconds, as the kernel takes it (TCP_KEEPIDLE); 0: off. */
export function keepAliveSeconds(l: ForwardLimits): number {
  return l.keepAliveMs > 0 ? Math.max(1, Math.round(l.keepAliveMs / 1000)) : 0;
}

export interface ForwardContext {
  mode(): ProxyMode;
  twins(): TwinMap;
  /** The node a model address is on: a pod's node, or the node that owns the address. */
  nodeOf(ip: IP): string | undefined;
  /** The node's model address, used for processes on the node. */
  nodeIP(node: string): IP | undefined;
  defaultNode(): string;
  readonly conntrack: LiveConntrack;
  readonly metrics: RuntimeMetrics;
  readonly log: Logger;
  readonly clock: Clock;
  readonly limits: ForwardLimits;
  /** Live TCP connection pairs (for draining and memory accounting). */
  readonly open: SlotSet<OpenMember>;
}
