/**
 * What the docker CLI prints for a planned host (docker/cli cli/command/formatter):
 *   tables     Go text/tabwriter with minwidth 10, tabwidth 1, padding 3, blank-padded; the last
 *              column is not padded
 *   docker ps  newest first (the daemon's order), PORTS as DisplayablePorts: sorted by private port,
 *              IP, public port, type; `IP:public->private/type` (ranges grouped when public equals
 *              private), IDs cut to 12
 *   network ls sorted by name (sortorder.NaturalLess), with the daemon's bridge, host and none
 */
import type { DockerPlan, PortBinding } from '../../netmodel/docker/index.js';
import { dockerId } from '../../netmodel/docker/index.js';

/** Go tabwriter(minwidth 10, tabwidth 1, padding 3, ' ', 0) over tab-separated rows. */
export function tabwrite(rows: readonly (readonly string[])[]): string {
  const cols = Math.max(...rows.map((r) => r.length));
  const width: number[] = [];
  for (let c = 0; c < cols - 1; c++)
    width[c] = Math.max(10, ...rows.map((r) => (c < r.length - 1 ? r[c]!.length + 3 : 0)));
  return rows
    .map((r) => r.map((cell, c) => (c < r.length - 1 ? cell.padEnd(width[c]!) : cell)).join(''))
    .map((l) => `${l}\n`)
    .join('');
}

/** docker/cli formatter.DisplayablePorts for one container's bindings. */
export function displayablePorts(ports: readonly PortBinding[]): string {
  const sorted = [...ports].sort(
    (a, b) =>
      a.containerPort - b.containerPort ||
      (a.hostIP < b.hostIP ? -1 : a.hostIP > b.hostIP ? 1 : 0) ||
      a.hostPort - b.hostPort ||
      (a.proto < b.proto ? -1 : a.proto > b.proto ? 1 : 0),
  );
  const groups = new Map<string, { first: number; last: number }>();
  const keys: string[] = [];
  const result: string[] = [];
  const host: string[] = [];
  const form = (key: string, g: { first: number; last: number }) => {
    const [ip, type] = key.split('/') as [string, string];
    let s = String(g.first);
    if (g.last !== g.first) s = `${s}-${g.last}`;
    return `${ip}:${s}->${s}/${type}`;
  };
  for (const p of sorted) {
    if (p.hostPort !== p.containerPort) {
      host.push(`${p.hostIP}:${p.hostPort}->${p.containerPort}/${p.proto}`);
      continue;
    }
    const key = `${p.hostIP}/${p.proto}`;
    const g = groups.get(key);
    if (!g) {
      groups.set(key, { first: p.containerPort, last: p.containerPort });
      keys.push(key);
    } else if (p.containerPort === g.last + 1) g.last = p.containerPort;
    else {
      result.push(form(key, g));
      groups.set(key, { first: p.containerPort, last: p.containerPort });
    }
  }
  for (const k of keys) result.push(form(k, groups.get(k)!));
  return [...result, ...host].join(', ');
}

/** `docker ps --format "table {{.ID}}\t{{.Image}}\t{{.Networks}}\t{{.Ports}}\t{{.Names}}"`. */
export function dockerPs(plan: DockerPlan): string {
  const rows: string[][] = [['CONTAINER ID', 'IMAGE', 'NETWORKS', 'PORTS', 'NAMES']];
  for (const c of [...plan.containers].reverse())
    rows.push([c.id.slice(0, 12), c.image, c.network.name, displayablePorts(c.ports), c.name]);
  return tabwrite(rows);
}

function naturalLess(a: string, b: string): number {
  const re = /(\d+)|(\D+)/g;
  const pa = a.match(re) ?? [];
  const pb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    if (/^\d/.test(x) && /^\d/.test(y)) {
      if (Number(x) !== Number(y)) return Number(x) - Number(y);
    } else if (x !== y) return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}

/** `docker network ls`. */
/**
 * `kpath get containers`: every Docker host's containers, one row each in `docker run` order (docker
 * ps shows these through --format: .Names, .Image, .Networks, .Ports, and the network's IPAddress
 * and MacAddress from docker inspect), with the host first as kubectl shows a node.
 */
export function containersTable(plans: readonly DockerPlan[], json = false): string {
  const items = plans.flatMap((p) =>
    p.containers.map((c) => ({
      host: p.host.name,
      name: c.name,
      id: c.id.slice(0, 12),
      image: c.image,
      network: c.network.name,
      ip: c.ip.text,
      mac: c.mac,
      ports: displayablePorts(c.ports),
    })),
  );
  if (json) return `${JSON.stringify({ containers: items }, null, 2)}\n`;
  if (!items.length) return '';
  return tabwrite([
    ['HOST', 'NAME', 'CONTAINER ID', 'IMAGE', 'NETWORK', 'IP', 'MAC', 'PORTS'],
    ...items.map((i) => [i.host, i.name, i.id, i.image, i.network, i.ip, i.mac, i.ports]),
  ]);
}

export function dockerNetworkLs(plan: DockerPlan): string {
  const nets = [
    ...plan.networks.map((n) => ({ id: n.id, name: n.name, driver: 'bridge' })),
    { id: dockerId(`${plan.host.name}/network/host`), name: 'host', driver: 'host' },
    { id: dockerId(`${plan.host.name}/network/none`), name: 'none', driver: 'null' },
  ].sort((a, b) => naturalLess(a.name, b.name));
  return tabwrite([
    ['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE'],
    ...nets.map((n) => [n.id.slice(0, 12), n.name, n.driver, 'local']),
  ]);
}

/**
 * `docker network inspect NAME` (the engine's NetworkResource, json.MarshalIndent with four
 * spaces): fields in the struct's order, containers by ID. kpath has no clock for `Created`, so it
 * is Go's zero time.
 */
export function dockerNetworkInspect(plan: DockerPlan, name: string): string | undefined {
  const n = plan.networks.find((x) => x.name === name || x.id.startsWith(name));
  if (!n) return undefined;
  const containers: Record<string, unknown> = {};
  for (const c of [...plan.containers].filter((x) => x.network === n).sort((a, b) => (a.id < b.id ? -1 : 1)))
    containers[c.id] = {
      Name: c.name,
      EndpointID: dockerId(`${plan.host.name}/endpoint/${c.name}`),
      MacAddress: c.mac,
      IPv4Address: `${c.ip.text}/${n.subnet.bits}`,
      IPv6Address: '',
    };
  const res = {
    Name: n.name,
    Id: n.id,
    Created: '0001-01-01T00:00:00Z',
    Scope: 'local',
    Driver: 'bridge',
    EnableIPv6: false,
    IPAM: {
      Driver: 'default',
      Options: n.isDefault ? null : {},
      Config: [{ Subnet: n.subnet.text, Gateway: n.gateway.text }],
    },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: containers,
    Options: n.isDefault
      ? {
          'com.docker.network.bridge.default_bridge': 'true',
          'com.docker.network.bridge.enable_icc': 'true',
          'com.docker.network.bridge.enable_ip_masquerade': 'true',
          'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
          'com.docker.network.bridge.name': 'docker0',
          'com.docker.network.driver.mtu': '1500',
        }
      : {},
    Labels: {},
  };
  return `${JSON.stringify([res], null, 4)}\n`;
}
