/**
 * `kpath cni` as the portmap plugin (containernetworking/plugins plugins/meta/portmap main.go): a
 * chained plugin that needs the previous result, reads `runtimeConfig.portMappings`, writes its
 * chains for the container's IPv4 address (the previous result's address on CNI_IFNAME inside the
 * sandbox) and prints the previous result unchanged. DEL removes the container's chain; CHECK
 * verifies the rules are there. Options: `snat` (true), `markMasqBit` (13, 0-31), `masqAll` (false);
 * `externalSetMarkChain` with `markMasqBit` is refused, the nftables backend is not emulated.
 */
import { type PortMapping, portmapAdd, portmapDel } from '../portmap/index.js';
import { CniCode, CniFailure } from './errors.js';
import { applyToNat, missingRule } from './iptables-state.js';

interface Conf {
  readonly network: string;
  readonly mappings: PortMapping[];
  readonly snat: boolean;
  readonly masqAll: boolean;
  readonly markMasqBit: number;
  readonly prev?: Record<string, unknown>;
}

function fail(msg: string): never {
  // A plain Go error from the plugin: skel reports it as code 999.
  throw new CniFailure(CniCode.INTERNAL, msg);
}

function parse(c: Record<string, unknown>): Conf {
  if (c.markMasqBit !== undefined && c.externalSetMarkChain !== undefined)
    fail('failed to parse config: Cannot specify externalSetMarkChain and markMasqBit');
  const bit = c.markMasqBit === undefined ? 13 : c.markMasqBit;
  if (typeof bit !== 'number' || !Number.isInteger(bit) || bit < 0 || bit > 31)
    fail('failed to parse config: MasqMarkBit must be between 0 and 31');
  if (c.backend !== undefined && c.backend !== 'iptables')
    fail(`failed to parse config: kpath cni emulates the iptables backend, not ${JSON.stringify(c.backend)}`);
  const rc = (c.runtimeConfig ?? {}) as { portMappings?: unknown };
  const raw = Array.isArray(rc.portMappings) ? (rc.portMappings as Record<string, unknown>[]) : [];
  const mappings: PortMapping[] = raw.map((m) => {
    const cp = Number(m.containerPort);
    const hp = Number(m.hostPort);
    if (!(cp > 0)) fail(`failed to parse config: Invalid container port number: ${m.containerPort ?? 0}`);
    if (!(hp > 0)) fail(`failed to parse config: Invalid host port number: ${m.hostPort ?? 0}`);
    return {
      hostPort: hp,
      containerPort: cp,
      protocol: typeof m.protocol === 'string' ? m.protocol : '',
      ...(typeof m.hostIP === 'string' && m.hostIP ? { hostIP: m.hostIP } : {}),
    };
  });
  return {
    network: typeof c.name === 'string' ? c.name : '',
    mappings,
    snat: c.snat !== false,
    masqAll: c.masqAll === true,
    markMasqBit: bit,
    ...(c.prevResult && typeof c.prevResult === 'object'
      ? { prev: c.prevResult as Record<string, unknown> }
      : {}),
  };
}

/** The container's IPv4 address with prefix from the previous result (skipping host-side interfaces). */
function containerNet(prev: Record<string, unknown>, ifname: string): string | undefined {
  const ifaces = (prev.interfaces ?? []) as { name?: string; sandbox?: string }[];
  for (const ip of (prev.ips ?? []) as { address?: string; interface?: number }[]) {
    if (!ip.address || ip.address.includes(':')) continue;
    const i = ip.interface;
    if (i !== undefined && i >= 0 && i < ifaces.length && (ifaces[i]!.name !== ifname || !ifaces[i]!.sandbox))
      continue;
    return ip.address;
  }
  return undefined;
}

export interface PortmapRun {
  readonly stdout: string;
  readonly nat?: string;
}

export function runPortmap(
  cmd: string,
  c: Record<string, unknown>,
  env: Readonly<Record<string, string | undefined>>,
  nat: string | undefined,
  version: string,
): PortmapRun {
  const conf = parse(c);
  const cid = env.CNI_CONTAINERID ?? '';
  const ifname = env.CNI_IFNAME ?? '';
  /** The rules ADD writes for the container's address, and CHECK expects. */
  const addOps = (net: Parameters<typeof portmapAdd>[0]['containerNet']) =>
    portmapAdd({
      network: conf.network,
      containerId: cid,
      containerNet: net,
      mappings: conf.mappings,
      snat: conf.snat,
      masqAll: conf.masqAll,
      markMasqBit: conf.markMasqBit,
    });
  switch (cmd) {
    case 'ADD': {
      if (!conf.prev) fail('must be called as chained plugin');
      const out = `${JSON.stringify({ ...conf.prev, cniVersion: version })}`;
      if (conf.mappings.length === 0) return { stdout: out };
      const net = containerNet(conf.prev, ifname);
      if (!net) return { stdout: out };
      const ops = addOps(net);
      return { stdout: out, nat: applyToNat(nat, ops) };
    }
    case 'DEL':
      if (conf.mappings.length === 0) return { stdout: '' };
      return {
        stdout: '',
        nat: applyToNat(
          nat,
          portmapDel({ network: conf.network, containerId: cid, mappings: conf.mappings }),
        ),
      };
    case 'CHECK': {
      if (!conf.prev) fail('Required prevResult missing');
      const net = containerNet(conf.prev, ifname);
      if (conf.mappings.length === 0 || !net) return { stdout: '' };
      const ops = addOps(net);
      const missing = missingRule(nat, ops);
      if (missing) fail(`could not check ipv4 dnat: ${missing} not found in iptables table nat`);
      return { stdout: '' };
    }
    default:
      // GC and STATUS: portmap does not implement them (FIXME in main.go); nothing to do.
      return { stdout: '' };
  }
}
