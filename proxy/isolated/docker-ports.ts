/**
 * A DockerHost's `-p` and `--expose` arguments with privileged ports moved up by PORT_SHIFT, as the
 * rest of an isolated run's ports: `80:80` -> `10080:10080`, `127.0.0.1:53:53/udp` ->
 * `127.0.0.1:10053:10053/udp`, `--expose 80` -> 10080. A range moves only when it lies wholly below
 * 1024; an argument that does not parse is left as written (the build reports it at its line).
 */
import { type PortSpec, parsePortSpec } from '../../netmodel/docker/index.js';
import { PORT_SHIFT, PRIVILEGED_BELOW } from './relocate.js';

function range(r: { start: number; end: number }, on: boolean): string {
  const d = on && r.end < PRIVILEGED_BELOW ? PORT_SHIFT : 0;
  return r.start === r.end ? String(r.start + d) : `${r.start + d}-${r.end + d}`;
}

function format(p: PortSpec, on: boolean): string {
  const ip = p.hostIP.includes(':') ? `[${p.hostIP}]` : p.hostIP;
  const host = p.hostPorts ? range(p.hostPorts, on) : '';
  const head = ip ? `${ip}:${host}:` : host ? `${host}:` : '';
  return `${head}${range(p.containerPorts, on)}/${p.proto}`;
}

export function shiftedDockerPort(arg: unknown, on: boolean): unknown {
  if (!on || (typeof arg !== 'string' && typeof arg !== 'number')) return arg;
  const p = parsePortSpec(String(arg));
  if (typeof p === 'string') return arg;
  if (typeof arg === 'number') return arg < PRIVILEGED_BELOW ? arg + PORT_SHIFT : arg;
  return format(p, on);
}
