/**
 * The environment of a container process: the downward-API-style variables kpath sets, the
 * container's own `env`, and the Kubernetes service variables for every service with a cluster IP in
 * the pod's namespace (as kubelet writes them: WEB_SERVICE_HOST, WEB_SERVICE_PORT,
 * WEB_SERVICE_PORT_HTTP, WEB_PORT, WEB_PORT_80_TCP, ..._PROTO, ..._PORT, ..._ADDR).
 *
 * Service and pod addresses in the environment are LOOPBACK TWINS, not model addresses, so that a real
 * process can connect to them; POD_IP is the model address and KPATH_POD_LOOPBACK_IP its twin (bind
 * there; bind it as the local address of outgoing sockets to be seen as the pod).
 */
import type { ClusterSnapshot, Container, Pod } from '../../../netmodel/cluster/index.js';
import type { TwinMap } from '../../../netmodel/twins.js';

const envName = (s: string) => s.toUpperCase().replace(/-/g, '_');

export function serviceEnv(snap: ClusterSnapshot, namespace: string, twins: TwinMap): Record<string, string> {
  const env: Record<string, string> = {};
  for (const svc of snap.services) {
    if (svc.meta.namespace !== namespace || svc.headless || svc.type === 'ExternalName') continue;
    const ip = svc.clusterIPs.find((x) => x.family === 4);
    const host = ip ? twins.toLoopback(ip)?.text : undefined;
    if (!host || svc.ports.length === 0) continue;
    const n = envName(svc.meta.name);
    const first = svc.ports[0]!;
    env[`${n}_SERVICE_HOST`] = host;
    env[`${n}_SERVICE_PORT`] = String(first.port);
    env[`${n}_PORT`] = `${first.protocol.toLowerCase()}://${host}:${first.port}`;
    for (const p of svc.ports) {
      if (p.name) env[`${n}_SERVICE_PORT_${envName(p.name)}`] = String(p.port);
      const pre = `${n}_PORT_${p.port}_${p.protocol}`;
      env[pre] = `${p.protocol.toLowerCase()}://${host}:${p.port}`;
      env[`${pre}_PROTO`] = p.protocol.toLowerCase();
      env[`${pre}_PORT`] = String(p.port);
      env[`${pre}_ADDR`] = host;
    }
  }
  return env;
}

export function containerEnv(
  snap: ClusterSnapshot,
  pod: Pod,
  c: Container,
  twins: TwinMap,
  base: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const podIP = pod.podIPs.find((x) => x.family === 4);
  const env: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'LANG', 'TMPDIR', 'SYSTEMROOT'])
    if (base[k] !== undefined) env[k] = base[k]!;
  Object.assign(env, serviceEnv(snap, pod.meta.namespace, twins));
  env.POD_NAME = pod.meta.name;
  env.POD_NAMESPACE = pod.meta.namespace;
  env.NODE_NAME = pod.nodeName ?? '';
  env.HOSTNAME = pod.hostname ?? pod.meta.name;
  if (podIP) {
    env.POD_IP = podIP.text;
    const lb = twins.toLoopback(podIP);
    if (lb) env.KPATH_POD_LOOPBACK_IP = lb.text;
  }
  const port = c.ports[0];
  if (port) env.PORT = String(port.containerPort);
  for (const e of c.env) if (e.value !== undefined) env[e.name] = e.value;
  return env;
}
