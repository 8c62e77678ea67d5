/**
 * kind: DockerHost (kpath.dev/v1alpha1): one Docker host as the docker commands that built it.
 *
 *   spec.address      the host's eth0, CIDR form (192.0.2.1/24)
 *   spec.engine       {version: "20.10" | "28", userlandProxy: true}
 *   spec.networks     `docker network create NAME [--subnet CIDR]`, in order
 *   spec.containers   `docker run --name NAME [--network NET] [-p SPEC]... IMAGE`, in order
 *   spec.ipForward    net.ipv4.ip_forward before dockerd starts (default false: dockerd sets it and
 *                     the FORWARD policy DROP)
 *
 * Every problem is a diagnostic at its field (file:line:col), including what dockerd itself would
 * refuse (an unknown network, a port already allocated, an overlapping subnet).
 */
import { tryParseIP, tryParsePrefix } from '../addr.js';
import {
  type DockerContainerSpec,
  type DockerHost,
  type DockerNetworkSpec,
  type PortProto,
  type PortSpec,
  parsePortSpec,
  planDockerHost,
} from '../docker/index.js';
import type { Reporter } from './diagnostics.js';
import { Fields } from './fields.js';
import type { RawObject } from './manifest.js';

/** Docker's container and network name rule (daemon/names: restrictedNameChars). */
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const RESERVED_NETWORKS = ['bridge', 'host', 'none'];

/**
 * `--expose PORT[/PROTO]` (compose `expose:`): ports the container listens on, unpublished; a
 * number or text as docker takes it (80, "53/udp", "8000-8002").
 */
export function decodeExpose(
  f: Fields,
  path: readonly (string | number)[],
): { port: number; proto: PortProto }[] {
  const out: { port: number; proto: PortProto }[] = [];
  (f.array([...path]) ?? []).forEach((raw, i) => {
    const text = String(raw);
    const p = typeof raw === 'string' || typeof raw === 'number' ? parsePortSpec(text) : text;
    if (typeof p === 'string' || p.hostPorts || p.hostIP) {
      f.error(
        [...path, i],
        `invalid expose "${text}": a container port or range with an optional /tcp or /udp (e.g. 80, "53/udp")`,
      );
      return;
    }
    for (let port = p.containerPorts.start; port <= p.containerPorts.end; port++)
      out.push({ port, proto: p.proto });
  });
  return out;
}

export function decodeDockerHost(f: Fields, name: string): DockerHost | undefined {
  const s = f.at(['spec']);
  if (!f.has(['spec']))
    f.error(['spec'], 'required: spec.address, spec.engine, spec.networks, spec.containers');
  let address: DockerHost['address'] | undefined;
  const addrText = s.requiredStr(
    ['address'],
    "the host's eth0 address with its prefix length, e.g. 192.0.2.1/24",
  );
  if (addrText !== undefined) {
    const slash = addrText.indexOf('/');
    const ip = tryParseIP(slash >= 0 ? addrText.slice(0, slash) : '');
    const bits = slash >= 0 ? Number(addrText.slice(slash + 1)) : Number.NaN;
    if (ip?.family !== 4 || !Number.isInteger(bits) || bits < 1 || bits > 32)
      s.error(['address'], `"${addrText}" is not an IPv4 address with a prefix length (e.g. 192.0.2.1/24)`);
    else address = { ip, bits };
  }
  const e = s.at(['engine']);
  const version = (e.has(['version']) ? e.oneOf(['version'], ['20.10', '28'] as const) : '20.10') ?? '20.10';
  const userlandProxy = e.bool(['userlandProxy']) ?? true;
  const icc = e.bool(['icc']);
  const ipForward = s.bool(['ipForward']) ?? false;

  const networks: DockerNetworkSpec[] = [];
  const netNames = new Set<string>();
  const netIdx: number[] = [];
  (s.array(['networks']) ?? []).forEach((_, i) => {
    const n = s.at(['networks', i]);
    const nm = n.requiredStr(['name'], 'the network name (docker network create NAME)');
    if (nm === undefined) return;
    if (!NAME_RE.test(nm)) {
      n.error(['name'], `invalid network name "${nm}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
      return;
    }
    if (RESERVED_NETWORKS.includes(nm) || netNames.has(nm)) {
      n.error(['name'], `network with name ${nm} already exists`);
      return;
    }
    netNames.add(nm);
    const subText = n.str(['subnet']);
    let subnet: DockerNetworkSpec['subnet'];
    if (subText !== undefined) {
      subnet = tryParsePrefix(subText, { strict: true });
      if (subnet?.ip.family !== 4 || !subText.includes('/') || subnet.bits > 30) {
        n.error(
          ['subnet'],
          `invalid subnet "${subText}": an IPv4 CIDR with zero host bits, /30 or larger (e.g. 10.10.0.0/24)`,
        );
        return;
      }
    }
    const internal = n.bool(['internal']);
    let netIcc = n.bool(['icc']);
    const iccOpt = n.str(['options', 'com.docker.network.bridge.enable_icc']);
    const bridgeName = n.str(['options', 'com.docker.network.bridge.name']);
    if (bridgeName !== undefined && !/^[a-zA-Z0-9_.-]{1,15}$/.test(bridgeName))
      n.error(
        ['options', 'com.docker.network.bridge.name'],
        `"${bridgeName}": an interface name of at most 15 characters [a-zA-Z0-9_.-]`,
      );
    if (iccOpt !== undefined) {
      if (iccOpt !== 'true' && iccOpt !== 'false')
        n.error(
          ['options', 'com.docker.network.bridge.enable_icc'],
          `"${iccOpt}": expected "true" or "false"`,
        );
      else netIcc = iccOpt === 'true';
    }
    networks.push({
      name: nm,
      ...(subnet ? { subnet } : {}),
      ...(internal !== undefined ? { internal } : {}),
      ...(netIcc !== undefined ? { icc: netIcc } : {}),
      ...(bridgeName !== undefined && /^[a-zA-Z0-9_.-]{1,15}$/.test(bridgeName) ? { bridgeName } : {}),
    });
    netIdx.push(i);
  });

  const containers: DockerContainerSpec[] = [];
  const ctrNames = new Set<string>();
  const ctrIdx: number[] = [];
  const portIdx: number[][] = [];
  (s.array(['containers']) ?? []).forEach((_, i) => {
    const c = s.at(['containers', i]);
    const nm = c.requiredStr(['name'], 'the container name (docker run --name NAME)');
    const image = c.requiredStr(['image'], 'the image (e.g. nginx)');
    if (nm === undefined || image === undefined) return;
    if (!NAME_RE.test(nm)) {
      c.error(['name'], `Invalid container name (${nm}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
      return;
    }
    if (ctrNames.has(nm)) {
      c.error(['name'], `Conflict. The container name "/${nm}" is already in use`);
      return;
    }
    ctrNames.add(nm);
    const network = c.str(['network']) ?? 'bridge';
    const ports: PortSpec[] = [];
    const pIdx: number[] = [];
    (c.strArray(['ports']) ?? []).forEach((t, pi) => {
      const p = parsePortSpec(t);
      if (typeof p === 'string') c.error(['ports', pi], p);
      else {
        ports.push(p);
        pIdx.push(pi);
      }
    });
    const expose = decodeExpose(c, ['expose']);
    containers.push({ name: nm, image, network, ports, ...(expose.length ? { expose } : {}) });
    ctrIdx.push(i);
    portIdx.push(pIdx);
  });

  if (!address) return undefined;
  const host: DockerHost = {
    kind: 'DockerHost',
    name,
    address,
    engine: { version, userlandProxy, ...(icc !== undefined ? { icc } : {}) },
    ipForward,
    networks,
    containers,
    ...(f.origin ? { origin: f.origin } : {}),
  };
  // What dockerd itself refuses (unknown network, port already allocated, overlapping pools).
  // Plan paths index the kept entries; map them back to the written ones.
  for (const p of planDockerHost(host).problems) {
    const path = [...p.path];
    if (path[0] === 'networks' && typeof path[1] === 'number') path[1] = netIdx[path[1]] ?? path[1];
    if (path[0] === 'containers' && typeof path[1] === 'number') {
      const ci = path[1];
      path[1] = ctrIdx[ci] ?? ci;
      if (path[2] === 'ports' && typeof path[3] === 'number') path[3] = portIdx[ci]?.[path[3]] ?? path[3];
    }
    s.error(path, p.message);
  }
  return host;
}

/** kind: DockerHost (netmodel/cluster/decode-docker.ts); names are unique among Docker hosts. */
export function decodeDockerInto(
  hosts: DockerHost[],
  raw: RawObject,
  apiVersion: string,
  f0: Fields,
  report: Reporter,
): void {
  if (apiVersion !== 'kpath.dev/v1alpha1') {
    f0.error(['apiVersion'], `"${apiVersion}" is not served for DockerHost; use kpath.dev/v1alpha1`);
    return;
  }
  const name = (raw.body.metadata as { name?: unknown } | undefined)?.name;
  if (typeof name !== 'string' || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) {
    f0.error(['metadata', 'name'], 'required: a host name (lowercase letters, digits and -), e.g. host');
    return;
  }
  if (hosts.some((h) => h.name === name)) {
    f0.error(['metadata', 'name'], `a second DockerHost named "${name}"`);
    return;
  }
  const h = decodeDockerHost(new Fields(raw.body, raw.origin, { kind: 'DockerHost', name }, report), name);
  if (h) hosts.push(h);
}
