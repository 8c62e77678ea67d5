/**
 * The iptables commands dockerd 20.10 runs on a fresh host, in order (moby/libnetwork, the 20.10
 * line: drivers/bridge/setup_ip_tables.go, iptables/iptables.go, firewall_linux.go), and the same
 * program as an iptables-restore --noflush payload for the emulated kernel.
 *
 *   daemon start   bridge driver setupIPChains: nat DOCKER, filter DOCKER, DOCKER-ISOLATION-STAGE-1/2,
 *                  each isolation chain ending in `-j RETURN` (AddReturnRule); then setupIPForwarding:
 *                  if ip_forward was off, `-P FORWARD DROP`
 *   each network   (docker0 at start, then `docker network create` in order) setupIPTablesInternal:
 *                    -I POSTROUTING -s SUBNET ! -o BR -j MASQUERADE
 *                    proxy on:  -I DOCKER -i BR -j RETURN       (skipDNAT)
 *                    proxy off: -I POSTROUTING -m addrtype --src-type LOCAL -o BR -j MASQUERADE
 *                    -I FORWARD -i BR -o BR -j ACCEPT            (setIcc, icc on; icc off:
 *                                                                 -A FORWARD -i BR -o BR -j DROP)
 *                    -I FORWARD -i BR ! -o BR -j ACCEPT          (outRule)
 *                  --internal instead (setupInternalNetworkRules): -I STAGE-1 -i BR ! -d SUBNET -j DROP,
 *                    -I STAGE-1 -o BR ! -s SUBNET -j DROP, setIcc, EnsureJumpRule; no NAT, no FORWARD
 *                    block, no isolation pair (isolateNetwork returns early for internal networks)
 *                  ProgramChain(nat): -A PREROUTING / -A OUTPUT jumps to DOCKER when not there yet
 *                  (OUTPUT with `! --dst 127.0.0.0/8` unless hairpin mode, i.e. proxy off)
 *                  ProgramChain(filter): -I FORWARD -o BR -j DOCKER, -I FORWARD -o BR ... RELATED,ESTABLISHED
 *                  EnsureJumpRule FORWARD -> DOCKER-ISOLATION-STAGE-1 (delete, insert at the top)
 *                  isolateNetwork/setINC: -I STAGE-1 -i BR ! -o BR -j STAGE-2, -I STAGE-2 -o BR -j DROP
 *                  then the controller's arrangeUserFilterRule: DOCKER-USER with `-j RETURN`, its
 *                  FORWARD jump deleted and inserted at the top (also for the "none" and "host"
 *                  networks the daemon makes before "bridge")
 *   each -p        ChainInfo.Forward, appended: nat DNAT (`-d 0/0` for 0.0.0.0, `! -i BR` unless
 *                  hairpin mode), filter DOCKER ACCEPT, nat POSTROUTING hairpin MASQUERADE (both proxy
 *                  modes in 20.10), and for sctp a mangle CHECKSUM --checksum-fill
 *
 * Commands carry `-t TABLE` first; the rest is in dockerd's argument order, so the list can be run
 * by a real iptables as it is.
 */

import type { DockerPlan, NetworkPlan } from '../../netmodel/docker/index.js';
import { ErrorCodes, KpathError } from '../../netmodel/errors.js';
import { dockerd28Commands } from './iptables28.js';
import { publishedPortRules } from './port-rules.js';

export type IptablesCommand = readonly string[];

export const DOCKER_CHAIN = 'DOCKER';
export const ISOLATION1 = 'DOCKER-ISOLATION-STAGE-1';
export const ISOLATION2 = 'DOCKER-ISOLATION-STAGE-2';
export const USER_CHAIN = 'DOCKER-USER';

class Program {
  readonly cmds: string[][] = [];
  private readonly present = new Set<string>();
  private key(table: string, chain: string, args: readonly string[]): string {
    return `${table}\u0000${chain}\u0000${args.join('\u0000')}`;
  }
  exists(table: string, chain: string, args: readonly string[]): boolean {
    return this.present.has(this.key(table, chain, args));
  }
  newChain(table: string, chain: string): void {
    if (this.present.has(`${table}\u0000chain\u0000${chain}`)) return;
    this.present.add(`${table}\u0000chain\u0000${chain}`);
    this.cmds.push(['-t', table, '-N', chain]);
  }
  /** `-A` or `-I` unless the rule is there (iptables -C), as ProgramRule/programChainRule do. */
  add(table: string, op: '-A' | '-I', chain: string, args: readonly string[]): void {
    if (this.exists(table, chain, args)) return;
    this.present.add(this.key(table, chain, args));
    this.cmds.push(['-t', table, op, chain, ...args]);
  }
  del(table: string, chain: string, args: readonly string[]): void {
    if (!this.exists(table, chain, args)) return;
    this.present.delete(this.key(table, chain, args));
    this.cmds.push(['-t', table, '-D', chain, ...args]);
  }
  /** EnsureJumpRule: delete the jump if present, insert it at the top. */
  ensureJump(from: string, to: string): void {
    this.del('filter', from, ['-j', to]);
    this.add('filter', '-I', from, ['-j', to]);
  }
}

function arrangeUserFilterRule(p: Program): void {
  p.newChain('filter', USER_CHAIN);
  p.add('filter', '-A', USER_CHAIN, ['-j', 'RETURN']);
  p.ensureJump('FORWARD', USER_CHAIN);
}

/** setIcc: icc on inserts `-i BR -o BR -j ACCEPT`; off appends the same match with `-j DROP`. */
function setIcc(p: Program, br: string, icc: boolean): void {
  const args = ['-i', br, '-o', br, '-j'];
  if (icc) {
    p.del('filter', 'FORWARD', [...args, 'DROP']);
    p.add('filter', '-I', 'FORWARD', [...args, 'ACCEPT']);
  } else {
    p.del('filter', 'FORWARD', [...args, 'ACCEPT']);
    p.add('filter', '-A', 'FORWARD', [...args, 'DROP']);
  }
}

function setupNetwork(p: Program, n: NetworkPlan, proxy: boolean): void {
  const br = n.bridge;
  const hairpin = !proxy;
  if (n.internal) {
    // setupInternalNetworkRules, then EnsureJumpRule; isolateNetwork skips internal networks.
    p.add('filter', '-I', ISOLATION1, ['-i', br, '!', '-d', n.subnet.text, '-j', 'DROP']);
    p.add('filter', '-I', ISOLATION1, ['-o', br, '!', '-s', n.subnet.text, '-j', 'DROP']);
    setIcc(p, br, n.icc);
    p.ensureJump('FORWARD', ISOLATION1);
    return;
  }
  p.add('nat', '-I', 'POSTROUTING', ['-s', n.subnet.text, '!', '-o', br, '-j', 'MASQUERADE']);
  if (!hairpin) p.add('nat', '-I', DOCKER_CHAIN, ['-i', br, '-j', 'RETURN']);
  else
    p.add('nat', '-I', 'POSTROUTING', [
      '-m',
      'addrtype',
      '--src-type',
      'LOCAL',
      '-o',
      br,
      '-j',
      'MASQUERADE',
    ]);
  setIcc(p, br, n.icc);
  p.add('filter', '-I', 'FORWARD', ['-i', br, '!', '-o', br, '-j', 'ACCEPT']);
  p.add('nat', '-A', 'PREROUTING', ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', DOCKER_CHAIN]);
  const output = ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', DOCKER_CHAIN];
  if (!hairpin) output.push('!', '--dst', '127.0.0.0/8');
  p.add('nat', '-A', 'OUTPUT', output);
  p.add('filter', '-I', 'FORWARD', ['-o', br, '-j', DOCKER_CHAIN]);
  p.add('filter', '-I', 'FORWARD', [
    '-o',
    br,
    '-m',
    'conntrack',
    '--ctstate',
    'RELATED,ESTABLISHED',
    '-j',
    'ACCEPT',
  ]);
  p.ensureJump('FORWARD', ISOLATION1);
  p.add('filter', '-I', ISOLATION1, ['-i', br, '!', '-o', br, '-j', ISOLATION2]);
  p.add('filter', '-I', ISOLATION2, ['-o', br, '-j', 'DROP']);
}

/** Every iptables command dockerd runs, from daemon start to the last `docker run`. */
export function dockerdCommands(plan: DockerPlan): IptablesCommand[] {
  const { engine } = plan.host;
  if (engine.version === '28') return dockerd28Commands(plan);
  if (engine.version !== '20.10')
    throw new KpathError(
      ErrorCodes.INVALID,
      `DockerHost ${plan.host.name}: engine ${engine.version}'s iptables layout is not modelled; use engine.version "20.10" or "28"`,
    );
  const proxy = engine.userlandProxy;
  const p = new Program();
  // Bridge driver configure: setupIPChains.
  p.newChain('nat', DOCKER_CHAIN);
  p.newChain('filter', DOCKER_CHAIN);
  p.newChain('filter', ISOLATION1);
  p.newChain('filter', ISOLATION2);
  p.add('filter', '-A', ISOLATION1, ['-j', 'RETURN']);
  p.add('filter', '-A', ISOLATION2, ['-j', 'RETURN']);
  // setupIPForwarding: turning ip_forward on, dockerd also sets the FORWARD policy to DROP.
  if (!plan.host.ipForward) p.cmds.push(['-t', 'filter', '-P', 'FORWARD', 'DROP']);
  // The "none" and "host" networks, then "bridge", then `docker network create` in order.
  arrangeUserFilterRule(p);
  arrangeUserFilterRule(p);
  for (const n of plan.networks) {
    setupNetwork(p, n, proxy);
    arrangeUserFilterRule(p);
  }
  for (const c of plan.containers) {
    const br = c.network.bridge;
    for (const b of c.ports) {
      const rules = publishedPortRules(b, c.ip.text, br, proxy);
      p.add('nat', '-A', DOCKER_CHAIN, rules.dnat);
      p.add('filter', '-A', DOCKER_CHAIN, rules.accept);
      p.add('nat', '-A', 'POSTROUTING', rules.hairpin);
      if (b.proto === 'sctp')
        p.add('mangle', '-A', 'POSTROUTING', [
          '-p',
          b.proto,
          '--sport',
          String(b.containerPort),
          '-j',
          'CHECKSUM',
          '--checksum-fill',
        ]);
    }
  }
  return p.cmds;
}

/** The commands as one iptables-restore --noflush payload (a table block per command, in order). */
export function dockerdRestore(cmds: readonly IptablesCommand[]): string {
  const out: string[] = [];
  for (const c of cmds) {
    const [, table, ...rest] = c;
    out.push(`*${table}`, rest.map((a) => (/[\s"]/.test(a) ? `"${a}"` : a)).join(' '), 'COMMIT');
  }
  out.push('');
  return out.join('\n');
}
