/**
 * Who a client is: a pod (its loopback twin is its address), a node (the node's twin) or a process
 * outside the cluster (127.0.0.1, which the proxy takes for a process on the node it dials). Binding
 * the outgoing socket to the twin is what makes the proxy and the echo server see that address.
 */
import { type IP, tryParseIP } from '../../netmodel/addr.js';
import type { ClusterSnapshot } from '../../netmodel/cluster/index.js';
import { planDockerHost } from '../../netmodel/docker/index.js';
import { ErrorCodes, KpathError } from '../../netmodel/errors.js';
import type { TwinMap } from '../../netmodel/twins.js';

export interface ClientSource {
  /** As the user named it: `pod/default/client`, `node/worker-1`, `external`. */
  readonly label: string;
  readonly kind: 'pod' | 'node' | 'external' | 'container';
  /** The model address the cluster sees (undefined for external). */
  readonly model?: IP;
  /** The loopback address the socket binds to. */
  readonly bind: string;
  /** The namespace whose search path resolves short names. */
  readonly namespace: string;
  /** The node the client is on, when known. */
  readonly node?: string;
}

function usage(msg: string): KpathError {
  return new KpathError(ErrorCodes.USAGE, msg);
}

function twinOf(twins: TwinMap, ip: IP, what: string): string {
  const t = twins.toLoopback(ip);
  if (!t)
    throw usage(
      `${what} has address ${ip.text}, which has no loopback twin: add a loopbackMap entry to the Cluster (e.g. model: ${ip.text}/32, loopback: 127.x.y.z/32)`,
    );
  return t.text;
}

/** `pod/NS/NAME` (or `pod/NAME` in the default namespace), `node/NAME` or `external`. */
export function parseSource(text: string, snap: ClusterSnapshot, twins: TwinMap): ClientSource {
  if (text === 'external' || text === 'host')
    return { label: text, kind: 'external', bind: '127.0.0.1', namespace: 'default' };
  if (text.startsWith('external/')) {
    // An address outside the cluster that the Cluster's loopbackMap gives a twin.
    const ip = tryParseIP(text.slice('external/'.length));
    if (!ip) throw usage(`--from ${text}: expected external/IP`);
    return { label: text, kind: 'external', model: ip, bind: twinOf(twins, ip, text), namespace: 'default' };
  }
  const parts = text.split('/');
  if ((parts[0] === 'pod' || parts[0] === 'po') && (parts.length === 3 || parts.length === 2)) {
    const [ns, name] = parts.length === 3 ? [parts[1]!, parts[2]!] : ['default', parts[1]!];
    const pod = snap.pod(ns, name);
    if (!pod)
      throw new KpathError(ErrorCodes.NOT_FOUND, `pod ${ns}/${name} does not exist (see: kpath get pods -A)`);
    const ip = pod.podIPs.find((a) => a.family === 4);
    if (!ip)
      throw new KpathError(
        ErrorCodes.NOT_FOUND,
        `pod ${ns}/${name} has no IPv4 address (it is ${pod.phase})`,
      );
    return {
      label: `pod/${ns}/${name}`,
      kind: 'pod',
      model: ip,
      bind: twinOf(twins, ip, `pod ${ns}/${name}`),
      namespace: ns,
      ...(pod.nodeName ? { node: pod.nodeName } : {}),
    };
  }
  if (parts[0] === 'node' && parts.length === 2) {
    const node = snap.node(parts[1]!);
    if (!node)
      throw new KpathError(ErrorCodes.NOT_FOUND, `node ${parts[1]} does not exist (see: kpath get nodes)`);
    const ip = node.internalIPs.find((a) => a.family === 4);
    if (!ip) throw new KpathError(ErrorCodes.NOT_FOUND, `node ${parts[1]} has no IPv4 InternalIP`);
    return {
      label: `node/${node.meta.name}`,
      kind: 'node',
      model: ip,
      bind: twinOf(twins, ip, `node ${node.meta.name}`),
      namespace: 'default',
      node: node.meta.name,
    };
  }
  if (parts[0] === 'container' && parts.length === 2) {
    // A container of a Docker host (kind: DockerHost): its address's twin.
    for (const h of snap.dockerHosts) {
      const c = planDockerHost(h).plan.containers.find((x) => x.name === parts[1]);
      if (c)
        return {
          label: `container/${c.name}`,
          kind: 'container',
          model: c.ip,
          bind: twinOf(twins, c.ip, `container ${c.name}`),
          namespace: 'default',
          node: h.name,
        };
    }
    throw new KpathError(ErrorCodes.NOT_FOUND, `container ${parts[1]} does not exist (see: kpath docker ps)`);
  }
  throw usage(`--from ${text}: expected pod/NAMESPACE/NAME, node/NAME, container/NAME or external`);
}
