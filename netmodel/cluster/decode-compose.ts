/**
 * A Compose file (compose.yaml / docker-compose.yml: a document with `services` and no `kind`)
 * read as the DockerHost it produces with `docker compose up` on a default 20.10 host:
 *
 *   project     top-level `name`, else the file's directory name (lowercased, [a-z0-9_-] kept)
 *   networks    `<project>_default` for services that name none, and `<project>_<key>` for each
 *               top-level network a service uses; made in key order (compose creates them from a map)
 *   containers  `<project>-<service>-1` (compose v2) unless `container_name`; in `depends_on`
 *               order, else file order (compose starts independent services in parallel, so real
 *               address order among them can differ)
 *   ports       short syntax as `docker run -p`, long syntax {target, published, host_ip, protocol}
 * The host is `compose` at 192.0.2.10/24 unless the file says otherwise under `x-kpath.address`.
 */

import { tryParseIP } from '../addr.js';
import type { DockerContainerSpec, DockerHost, DockerNetworkSpec, PortSpec } from '../docker/index.js';
import { parsePortSpec, planDockerHost } from '../docker/index.js';
import { decodeExpose } from './decode-docker.js';
import type { Fields } from './fields.js';

export function isComposeDocument(body: Record<string, unknown>): boolean {
  return body.kind === undefined && typeof body.services === 'object' && body.services !== null;
}

function projectName(f: Fields): string {
  const n = f.str(['name']);
  if (n) return n;
  const file = f.origin?.file ?? 'compose';
  const parts = file.split('/');
  const dir = parts.length > 1 ? parts[parts.length - 2]! : 'compose';
  return dir.toLowerCase().replace(/[^a-z0-9_-]/g, '') || 'compose';
}

export function decodeCompose(f: Fields): DockerHost | undefined {
  const project = projectName(f);
  const services = f.object(['services']) ?? {};
  const names = Object.keys(services);
  const used = new Set<string>();
  const specs: { svc: string; c: DockerContainerSpec; deps: string[] }[] = [];
  for (const svc of names) {
    const s = f.at(['services', svc]);
    const image = s.str(['image']);
    if (!image) {
      s.error(['image'], 'required: an image (kpath does not build images)');
      continue;
    }
    let network = `${project}_default`;
    const nets = s.get(['networks']);
    const netList = Array.isArray(nets)
      ? nets.map(String)
      : nets && typeof nets === 'object'
        ? Object.keys(nets)
        : [];
    if (netList.length > 1)
      s.error(['networks'], 'a service on more than one network is not modelled yet; give one');
    else if (netList.length === 1) {
      const key = netList[0]!;
      if (!f.has(['networks', key])) {
        s.error(['networks'], `service "${svc}" refers to undefined network ${key}: invalid compose project`);
        continue;
      }
      network = `${project}_${key}`;
    }
    used.add(network);
    const ports: PortSpec[] = [];
    (s.array(['ports']) ?? []).forEach((raw, i) => {
      let text: string;
      if (typeof raw === 'string' || typeof raw === 'number') text = String(raw);
      else if (raw && typeof raw === 'object') {
        const p = s.at(['ports', i]);
        const target = p.int(['target'], { min: 1, max: 65535 });
        if (target === undefined) {
          p.error(['target'], 'required: the container port');
          return;
        }
        const published = p.get(['published']);
        const hostIP = p.str(['host_ip']);
        const proto = p.str(['protocol']) ?? 'tcp';
        const pub = published === undefined ? '' : String(published);
        text = hostIP
          ? `${hostIP}:${pub}:${target}/${proto}`
          : pub
            ? `${pub}:${target}/${proto}`
            : `${target}/${proto}`;
      } else {
        s.error(['ports', i], 'expected "HOST:CONTAINER" or {target, published, host_ip, protocol}');
        return;
      }
      const p = parsePortSpec(text);
      if (typeof p === 'string') s.error(['ports', i], p);
      else ports.push(p);
    });
    const expose = decodeExpose(s, ['expose']);
    const deps = s.get(['depends_on']);
    const depList = Array.isArray(deps)
      ? deps.map(String)
      : deps && typeof deps === 'object'
        ? Object.keys(deps)
        : [];
    for (const d of depList)
      if (!names.includes(d)) s.error(['depends_on'], `service "${svc}" depends on undefined service "${d}"`);
    specs.push({
      svc,
      c: {
        name: s.str(['container_name']) ?? `${project}-${svc}-1`,
        image,
        network,
        ports,
        ...(expose.length ? { expose } : {}),
      },
      deps: depList,
    });
  }
  // depends_on first, then file order.
  const ordered: DockerContainerSpec[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();
  const visit = (svc: string) => {
    if (done.has(svc) || visiting.has(svc)) return;
    visiting.add(svc);
    const sp = specs.find((x) => x.svc === svc);
    if (sp) {
      for (const d of sp.deps) visit(d);
      ordered.push(sp.c);
    }
    done.add(svc);
  };
  for (const sp of specs) visit(sp.svc);
  // Top-level networks: `internal: true` and driver_opts com.docker.network.bridge.enable_icc.
  const networks: DockerNetworkSpec[] = [...used].sort().map((name) => {
    const key = name.slice(project.length + 1);
    const n = f.at(['networks', key]);
    if (!f.has(['networks', key])) return { name };
    const internal = n.bool(['internal']);
    const icc = n.str(['driver_opts', 'com.docker.network.bridge.enable_icc']);
    return {
      name,
      ...(internal !== undefined ? { internal } : {}),
      ...(icc !== undefined ? { icc: icc !== 'false' } : {}),
    };
  });
  const addrText = f.str(['x-kpath', 'address']) ?? '192.0.2.10/24';
  const [ipText, bitsText] = addrText.split('/');
  const ip = tryParseIP(ipText ?? '');
  const bits = Number(bitsText);
  if (ip?.family !== 4 || !Number.isInteger(bits) || bits < 1 || bits > 32) {
    f.error(['x-kpath', 'address'], `"${addrText}" is not an IPv4 address with a prefix length`);
    return undefined;
  }
  const host: DockerHost = {
    kind: 'DockerHost',
    name: 'compose',
    address: { ip, bits },
    engine: { version: '20.10', userlandProxy: true },
    ipForward: false,
    networks,
    containers: ordered,
    ...(f.origin ? { origin: f.origin } : {}),
  };
  for (const p of planDockerHost(host).problems) f.error(['services'], p.message);
  return host;
}
