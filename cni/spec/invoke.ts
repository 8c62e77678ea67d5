/**
 * `kpath cni`: a CNI plugin per spec 1.1.0 against kpath's emulated node state, as a pure function:
 * the environment (CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS, CNI_PATH) and the
 * network configuration on stdin in; the result or error JSON for stdout, the exit status and the
 * next state out. The plugin is `bridge` with `host-local` IPAM, as containernetworking/plugins'
 * bridge plugin sets a pod up (cni/bridge), with its `ipMasq` chains; or `portmap`, the chained
 * hostPort plugin (portmap-plugin.ts). The state is what host-local keeps in /var/lib/cni/networks,
 * the interfaces ADD made, and the nat table the plugins' iptables rules live in.
 *
 *   ADD     allocate, build the result: interfaces [bridge, host veth, container], ips, routes, dns
 *   DEL     release; succeeds again and for unknown containers
 *   CHECK   the container's interface and addresses are still those of prevResult
 *   GC      release every allocation not in cni.dev/valid-attachments
 *   VERSION the versions this plugin speaks;  STATUS ready (exit 0, no output)
 */
import { deriveMac } from '../../netmodel/devices/index.js';
import { ipMasqAdd, ipMasqDel } from '../portmap/index.js';
import { CNI_VERSION, CniCode, type CniError, CniFailure, SUPPORTED_VERSIONS } from './errors.js';
import { allocate, canonicalRange, type IpamRange, type IpamStore, release } from './host-local.js';
import { applyToNat } from './iptables-state.js';
import { runPortmap } from './portmap-plugin.js';

export interface CniState {
  networks: Record<string, IpamStore>;
  /** `containerID/ifname` -> the ADD result and netns. */
  containers: Record<string, { netns: string; network: string; result: Record<string, unknown> }>;
  /** The nat table as `iptables-save -t nat` prints it: ipMasq and portmap chains (absent: untouched). */
  nat?: string;
}

export function emptyCniState(): CniState {
  return { networks: {}, containers: {} };
}

export interface CniInvocation {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdin: string;
  readonly state: CniState;
}

export interface CniOutcome {
  readonly stdout: string;
  readonly exit: number;
  readonly state: CniState;
}

const CONTAINER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

function need(env: CniInvocation['env'], names: readonly string[]): void {
  const missing = names.filter((n) => !env[n]);
  if (missing.length)
    throw new CniFailure(CniCode.INVALID_ENV, `required env variables [${missing.join(',')}] missing`);
  const cid = env.CNI_CONTAINERID;
  if (cid !== undefined && !CONTAINER_ID.test(cid))
    throw new CniFailure(
      CniCode.INVALID_ENV,
      `invalid characters in containerID: ${cid}`,
      'CNI_CONTAINERID starts with a letter or digit, then letters, digits, "_", "." or "-"',
    );
  const ifn = env.CNI_IFNAME;
  if (ifn !== undefined && (ifn.length > 15 || ifn === '.' || ifn === '..' || /[/:\s]/.test(ifn)))
    throw new CniFailure(
      CniCode.INVALID_ENV,
      `invalid interface name ${JSON.stringify(ifn)}`,
      'CNI_IFNAME: at most 15 characters, not "." or "..", no "/", ":" or whitespace',
    );
}

function parseConfig(stdin: string): Record<string, unknown> {
  let c: unknown;
  try {
    c = JSON.parse(stdin);
  } catch (e) {
    throw new CniFailure(CniCode.DECODE_FAILURE, 'error parsing configuration', String((e as Error).message));
  }
  if (!c || typeof c !== 'object' || Array.isArray(c))
    throw new CniFailure(
      CniCode.DECODE_FAILURE,
      'error parsing configuration',
      'the network configuration is a JSON object',
    );
  return c as Record<string, unknown>;
}

function versionOf(c: Record<string, unknown>): string {
  const v = typeof c.cniVersion === 'string' ? c.cniVersion : '';
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(v))
    throw new CniFailure(
      CniCode.INCOMPATIBLE_VERSION,
      'incompatible CNI versions',
      `config is "${v}", plugin supports [${SUPPORTED_VERSIONS.map((x) => `"${x}"`).join(' ')}]`,
    );
  return v;
}

interface BridgeConf {
  readonly name: string;
  readonly bridge: string;
  readonly isGateway: boolean;
  readonly isDefaultGateway: boolean;
  readonly mtu: number;
  readonly ranges: IpamRange[][];
  readonly routes: { dst: string; gw?: string }[];
  readonly ipMasq: boolean;
}

function bridgeConf(c: Record<string, unknown>): BridgeConf {
  if (c.type !== 'bridge')
    throw new CniFailure(
      CniCode.INVALID_NETWORK_CONFIG,
      `unsupported plugin type ${JSON.stringify(c.type)}`,
      'kpath cni implements "bridge" with "host-local" IPAM',
    );
  const name = typeof c.name === 'string' ? c.name : '';
  if (!CONTAINER_ID.test(name))
    throw new CniFailure(CniCode.INVALID_NETWORK_CONFIG, `invalid network name ${JSON.stringify(c.name)}`);
  const ipam = (c.ipam ?? {}) as Record<string, unknown>;
  if (ipam.type !== 'host-local')
    throw new CniFailure(
      CniCode.INVALID_NETWORK_CONFIG,
      `unsupported IPAM type ${JSON.stringify(ipam.type)}`,
      'kpath cni implements host-local',
    );
  const sets: Record<string, unknown>[][] = [];
  if (typeof ipam.subnet === 'string') sets.push([ipam]);
  if (Array.isArray(ipam.ranges)) for (const s of ipam.ranges) sets.push(Array.isArray(s) ? s : []);
  if (sets.length === 0 || sets.some((s) => s.length === 0))
    throw new CniFailure(
      CniCode.INVALID_NETWORK_CONFIG,
      'no IP ranges specified',
      'ipam.ranges: [[{"subnet": "10.244.1.0/24"}]]',
    );
  const ranges = sets.map((s, i) => s.map((r, j) => canonicalRange(r, `ipam.ranges[${i}][${j}]`)));
  const isDefaultGateway = c.isDefaultGateway === true;
  return {
    name,
    bridge: typeof c.bridge === 'string' ? c.bridge : 'cni0',
    isGateway: c.isGateway === true || isDefaultGateway,
    isDefaultGateway,
    mtu: typeof c.mtu === 'number' && c.mtu > 0 ? c.mtu : 1500,
    ranges,
    routes: Array.isArray(ipam.routes) ? (ipam.routes as { dst: string; gw?: string }[]) : [],
    ipMasq: c.ipMasq === true,
  };
}

function hex8(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

function add(
  inv: CniInvocation,
  c: Record<string, unknown>,
  version: string,
  state: CniState,
): Record<string, unknown> {
  need(inv.env, ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME']);
  const conf = bridgeConf(c);
  const cid = inv.env.CNI_CONTAINERID!;
  const ifname = inv.env.CNI_IFNAME!;
  const netns = inv.env.CNI_NETNS!;
  const key = `${cid}/${ifname}`;
  if (state.containers[key])
    throw new CniFailure(CniCode.INTERNAL, `container veth name provided (${ifname}) already exists`);
  state.networks[conf.name] ??= { allocations: {}, lastReserved: {} };
  const store = state.networks[conf.name]!;
  const owner = `${cid}\r\n${ifname}`;
  const ips: Record<string, unknown>[] = [];
  const routes: Record<string, unknown>[] = conf.routes.map((r) => ({ ...r }));
  for (const [i, set] of conf.ranges.entries()) {
    const { ip, range } = allocate(store, set, i, owner);
    const gw = conf.isGateway || range.gateway ? range.gateway : undefined;
    ips.push({
      ...(version.startsWith('0.3') || version === '0.4.0' ? { version: ip.family === 4 ? '4' : '6' } : {}),
      address: `${ip.text}/${range.subnet.bits}`,
      ...(gw ? { gateway: gw.text } : {}),
      interface: 2,
    });
    if (
      conf.isDefaultGateway &&
      gw &&
      !routes.some((r) => r.dst === (ip.family === 4 ? '0.0.0.0/0' : '::/0'))
    )
      routes.push({ dst: ip.family === 4 ? '0.0.0.0/0' : '::/0', gw: gw.text });
  }
  const hostVeth = `veth${hex8(key)}`;
  const result = {
    cniVersion: version,
    interfaces: [
      { name: conf.bridge, mac: deriveMac(`${conf.name}/${conf.bridge}`) },
      { name: hostVeth, mac: deriveMac(`host/${hostVeth}`) },
      { name: ifname, mac: deriveMac(`${netns}/${ifname}`), sandbox: netns },
    ],
    ips,
    routes,
    dns: {},
  };
  state.containers[key] = { netns, network: conf.name, result };
  // ipMasq: per address, the CNI-<hash> chain and its POSTROUTING jump (ip.SetupIPMasqForNetworks).
  if (conf.ipMasq)
    state.nat = applyToNat(
      state.nat,
      ipMasqAdd(
        conf.name,
        cid,
        ips.map((i) => String(i.address)),
      ),
    );
  if (version === '0.1.0' || version === '0.2.0') {
    const first = ips[0]!;
    return {
      cniVersion: version,
      ip4: { ip: first.address, ...(first.gateway ? { gateway: first.gateway } : {}), routes },
      dns: {},
    };
  }
  return result;
}

function run(inv: CniInvocation, state: CniState): string {
  const cmd = inv.env.CNI_COMMAND;
  if (!cmd) throw new CniFailure(CniCode.INVALID_ENV, 'required env variables [CNI_COMMAND] missing');
  if (cmd === 'VERSION') {
    return JSON.stringify({ cniVersion: CNI_VERSION, supportedVersions: SUPPORTED_VERSIONS });
  }
  if (cmd === 'STATUS') return '';
  const c = parseConfig(inv.stdin);
  const version = versionOf(c);
  if (c.type === 'portmap') {
    if (cmd === 'ADD' || cmd === 'CHECK') need(inv.env, ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME']);
    if (cmd === 'DEL') need(inv.env, ['CNI_CONTAINERID', 'CNI_IFNAME']);
    const r = runPortmap(cmd, c, inv.env, state.nat, version);
    if (r.nat !== undefined) state.nat = r.nat;
    return r.stdout;
  }
  switch (cmd) {
    case 'ADD':
      return JSON.stringify(add(inv, c, version, state));
    case 'DEL': {
      need(inv.env, ['CNI_CONTAINERID', 'CNI_IFNAME']);
      const name = typeof c.name === 'string' ? c.name : '';
      const key = `${inv.env.CNI_CONTAINERID}/${inv.env.CNI_IFNAME}`;
      const store = state.networks[name];
      if (store) release(store, `${inv.env.CNI_CONTAINERID}\r\n${inv.env.CNI_IFNAME}`);
      // ipMasq teardown for the addresses the container had (none known: nothing to remove).
      const had = state.containers[key];
      if (c.ipMasq === true && had)
        state.nat = applyToNat(
          state.nat,
          ipMasqDel(
            name,
            inv.env.CNI_CONTAINERID!,
            ((had.result.ips as { address: string }[]) ?? []).map((i) => i.address),
          ),
        );
      delete state.containers[key];
      return '';
    }
    case 'CHECK': {
      need(inv.env, ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME']);
      const key = `${inv.env.CNI_CONTAINERID}/${inv.env.CNI_IFNAME}`;
      const have = state.containers[key];
      if (!have)
        throw new CniFailure(
          CniCode.INTERNAL,
          `Error: Container ${inv.env.CNI_CONTAINERID} has no interface ${inv.env.CNI_IFNAME}`,
        );
      const prev = c.prevResult as { ips?: { address: string }[] } | undefined;
      if (!prev) throw new CniFailure(CniCode.INVALID_NETWORK_CONFIG, 'Required prevResult missing');
      const want = (prev.ips ?? []).map((i) => i.address).sort();
      const got = ((have.result.ips as { address: string }[]) ?? []).map((i) => i.address).sort();
      if (JSON.stringify(want) !== JSON.stringify(got))
        throw new CniFailure(
          CniCode.INTERNAL,
          `Failed to match addr ${want.join(',')} on interface ${inv.env.CNI_IFNAME}`,
          `the interface has ${got.join(',') || 'no address'}`,
        );
      return '';
    }
    case 'GC': {
      const name = typeof c.name === 'string' ? c.name : '';
      const valid = new Set(
        ((c['cni.dev/valid-attachments'] as { containerID: string; ifname: string }[] | undefined) ?? []).map(
          (a) => `${a.containerID}/${a.ifname}`,
        ),
      );
      const store = state.networks[name];
      for (const [key, v] of Object.entries(state.containers)) {
        if (v.network !== name || valid.has(key)) continue;
        const [cid, ifn] = [key.slice(0, key.lastIndexOf('/')), key.slice(key.lastIndexOf('/') + 1)];
        if (store) release(store, `${cid}\r\n${ifn}`);
        delete state.containers[key];
      }
      return '';
    }
    default:
      throw new CniFailure(
        CniCode.INVALID_ENV,
        `unknown CNI_COMMAND: ${cmd}`,
        'one of ADD, DEL, CHECK, GC, VERSION, STATUS',
      );
  }
}

export function invokeCni(inv: CniInvocation): CniOutcome {
  const state: CniState = structuredClone(inv.state);
  try {
    const out = run(inv, state);
    return { stdout: out ? `${out}\n` : '', exit: 0, state };
  } catch (e) {
    if (!(e instanceof CniFailure)) throw e;
    let version = CNI_VERSION;
    try {
      const c = JSON.parse(inv.stdin) as { cniVersion?: unknown };
      if (typeof c.cniVersion === 'string') version = c.cniVersion;
    } catch {
      // keep the plugin's own version
    }
    const err: CniError = {
      cniVersion: version,
      code: e.code,
      msg: e.message,
      ...(e.details ? { details: e.details } : {}),
    };
    return { stdout: `${JSON.stringify(err)}\n`, exit: 1, state: inv.state };
  }
}
