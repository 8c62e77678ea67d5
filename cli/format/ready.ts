/**
 * What `kpath up` prints once it is ready: one line per service saying how to reach it from this
 * host (the loopback twin of its cluster IP, and of 127.0.0.1 for a NodePort), with the command a
 * user would type: curl for HTTP-looking ports, dig for DNS, nc for anything else.
 */
import type { ClusterSnapshot, Service, ServicePort } from '../../netmodel/cluster/index.js';
import type { ListenerInfo } from '../../proxy/runtime/index.js';

const HTTP_NAMES = /^(https?|web|metrics|http-.*|.*-http|grpc-web)$/i;
const HTTP_PORTS = new Set([80, 443, 3000, 5000, 8000, 8080, 8081, 8443, 9080, 9090]);

function isDns(p: ServicePort): boolean {
  return p.port === 53 || /^dns(-tcp)?$/.test(p.name);
}

function isHttp(p: ServicePort): boolean {
  const app = (p.appProtocol ?? '').toLowerCase();
  if (app === 'http' || app === 'https' || app.startsWith('kubernetes.io/h')) return true;
  return p.protocol === 'TCP' && (HTTP_NAMES.test(p.name) || HTTP_PORTS.has(p.port));
}

function scheme(p: ServicePort): string {
  return p.port === 443 || p.port === 8443 || /https/i.test(p.name) || p.appProtocol === 'https'
    ? 'https'
    : 'http';
}

function hostPort(address: string): { host: string; port: string } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i), port: address.slice(i + 1) };
}

/** The example command for one listener of a service port. */
function tryCommand(p: ServicePort, address: string, dnsName: string): string {
  const { host, port } = hostPort(address);
  if (isDns(p)) return `dig @${host}${port === '53' ? '' : ` -p ${port}`} ${dnsName} +short`;
  if (isHttp(p)) return `curl ${scheme(p) === 'https' ? '-k ' : ''}${scheme(p)}://${address}/`;
  return p.protocol === 'UDP' ? `nc -u ${host} ${port}` : `nc ${host} ${port}`;
}

/** One line per service with a listener, aligned, each naming what to type. */
export function readyLines(snap: ClusterSnapshot, listeners: readonly ListenerInfo[]): string[] {
  const domain = snap.config.domain;
  const sorted = [...snap.services].sort((a, b) =>
    `${a.meta.namespace}/${a.meta.name}` < `${b.meta.namespace}/${b.meta.name}` ? -1 : 1,
  );
  // The name dig is shown with: the first of the user's services (else kube-dns itself).
  const firstOther = sorted.find((s) => s.meta.namespace !== 'kube-system' && s.type !== 'ExternalName');
  const exampleName = firstOther
    ? `${firstOther.meta.name}.${firstOther.meta.namespace}.svc.${domain}`
    : `kube-dns.kube-system.svc.${domain}`;
  const rows: [string, string][] = [];
  for (const svc of sorted) {
    const cmds = commandsFor(svc, listeners, exampleName);
    if (cmds.length) rows.push([`${svc.meta.namespace}/${svc.meta.name}`, cmds.join('   ')]);
  }
  const w = Math.max(0, ...rows.map(([n]) => n.length));
  return rows.map(([n, c]) => `  ${n.padEnd(w)}   ${c}`);
}

function commandsFor(svc: Service, listeners: readonly ListenerInfo[], dnsName: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const p of svc.ports) {
    const key = `${svc.meta.namespace}/${svc.meta.name}:${p.name}`;
    const mine = listeners.filter((l) => l.servicePort === key && l.protocol === p.protocol);
    const cluster = mine.find((l) => l.entry === 'ClusterIP');
    const nodePort = mine.find((l) => l.entry === 'NodePort' && l.address.startsWith('127.0.0.1:'));
    // DNS answers the same over UDP and TCP: show it once.
    const what = isDns(p) ? 'dns' : `${p.port}/${p.protocol}`;
    if (seen.has(what)) continue;
    if (cluster) out.push(tryCommand(p, cluster.address, dnsName));
    if (nodePort) out.push(`(NodePort) ${tryCommand(p, nodePort.address, dnsName)}`);
    if (cluster || nodePort) seen.add(what);
  }
  return out;
}
