/**
 * Parses the arguments of one rule (`-s ... -m tcp --dport 80 -j ACCEPT`) into a typed Rule, as
 * iptables 1.8 does: options of a match follow its `-m`, protocol options (--dport, --syn,
 * --icmp-type) load the protocol's match implicitly where they first appear, and header options
 * (-s -d -i -o -p) may appear anywhere. Errors carry the line number and how to fix the text.
 */
import type { Family, IP, Prefix } from '../addr.js';
import { tryParseIP, tryParsePrefix, v4, v6 } from '../addr.js';
import { ErrorCodes, KpathError } from '../errors.js';
import type {
  AddrMatch,
  ConntrackMatch,
  IcmpMatch,
  IpvsMatch,
  Match,
  PhysdevMatch,
  PortMatch,
  PortRange,
  RecentMatch,
} from './match.js';
import { ADDR_TYPES, addrTypeBit, CtStateBit, CtStatus, HEADER_ORDER, IPPROTO, TcpFlag } from './match.js';
import { parseMarkMask, parsePortRange, parseUint } from './numbers.js';
import { parseProto } from './protocols.js';
import type { Counters, Rule } from './ruleset.js';
import { probabilityToFixed } from './statistic.js';
import type { NatRange, RejectWith, Target } from './target.js';
import { LogFlag, REJECT_WITH_V4, REJECT_WITH_V6 } from './target.js';

export interface RuleParseContext {
  readonly family: Family;
  readonly table: string;
  readonly chain: string;
  readonly line: number;
}

export function rulesError(line: number, msg: string): KpathError {
  return new KpathError(ErrorCodes.RULES, `line ${line}: ${msg}`);
}

type Fail = (msg: string) => never;

/** A match being built from its options. */
interface ExtBuilder {
  readonly name: string;
  /** Consumes option `opt` (args follow at tokens[i]); returns how many args it took, or -1 if not its option. */
  take(opt: string, neg: boolean, args: readonly string[], i: number): number;
  finish(): Match;
}

interface ParseState {
  readonly ctx: RuleParseContext;
  readonly fail: Fail;
  proto: number | undefined;
  protoNeg: boolean;
}

function arg(args: readonly string[], i: number, opt: string, fail: Fail): string {
  const a = args[i];
  if (a === undefined) fail(`option "${opt}" requires an argument`);
  return a;
}

function portMatch(s: string, neg: boolean, opt: string, fail: Fail): PortMatch {
  const r = parsePortRange(s);
  if (!r) fail(`invalid port range "${s}" for ${opt} (expected a number 0-65535 or a range like 1024:65535)`);
  return { ...r, neg };
}

const TCP_FLAG_NAMES: readonly [string, number][] = [
  ['FIN', TcpFlag.FIN],
  ['SYN', TcpFlag.SYN],
  ['RST', TcpFlag.RST],
  ['PSH', TcpFlag.PSH],
  ['ACK', TcpFlag.ACK],
  ['URG', TcpFlag.URG],
];

export { TCP_FLAG_NAMES };

function tcpFlags(s: string, fail: Fail): number {
  if (s === 'ALL') return 0x3f;
  if (s === 'NONE') return 0;
  let bits = 0;
  for (const part of s.split(',')) {
    const f = TCP_FLAG_NAMES.find(([n]) => n === part.toUpperCase());
    if (!f) fail(`unknown TCP flag "${part}" (expected FIN, SYN, RST, PSH, ACK, URG, ALL or NONE)`);
    bits |= f[1];
  }
  return bits;
}

function l4Builder(kind: 'tcp' | 'udp' | 'sctp', fail: Fail): ExtBuilder {
  let sport: PortMatch | undefined;
  let dport: PortMatch | undefined;
  let flags: { mask: number; comp: number; neg: boolean } | undefined;
  return {
    name: kind,
    take(opt, neg, args, i) {
      switch (opt) {
        case '--sport':
        case '--source-port':
          sport = portMatch(arg(args, i, opt, fail), neg, opt, fail);
          return 1;
        case '--dport':
        case '--destination-port':
          dport = portMatch(arg(args, i, opt, fail), neg, opt, fail);
          return 1;
        case '--syn':
          if (kind !== 'tcp') return -1;
          flags = { mask: TcpFlag.FIN | TcpFlag.SYN | TcpFlag.RST | TcpFlag.ACK, comp: TcpFlag.SYN, neg };
          return 0;
        case '--tcp-flags': {
          if (kind !== 'tcp') return -1;
          const mask = tcpFlags(arg(args, i, opt, fail), fail);
          const comp = tcpFlags(arg(args, i + 1, opt, fail), fail);
          flags = { mask, comp, neg };
          return 2;
        }
        default:
          return -1;
      }
    },
    finish() {
      if (kind === 'tcp') {
        return {
          kind,
          ...(sport ? { sport } : {}),
          ...(dport ? { dport } : {}),
          ...(flags ? { flags } : {}),
        };
      }
      return { kind, ...(sport ? { sport } : {}), ...(dport ? { dport } : {}) };
    },
  };
}

const ICMP_NAMES: ReadonlyMap<string, [number, number, number]> = new Map([
  ['any', [255, 0, 255]],
  ['echo-reply', [0, 0, 255]],
  ['pong', [0, 0, 255]],
  ['destination-unreachable', [3, 0, 255]],
  ['network-unreachable', [3, 0, 0]],
  ['host-unreachable', [3, 1, 1]],
  ['protocol-unreachable', [3, 2, 2]],
  ['port-unreachable', [3, 3, 3]],
  ['fragmentation-needed', [3, 4, 4]],
  ['source-route-failed', [3, 5, 5]],
  ['network-prohibited', [3, 9, 9]],
  ['host-prohibited', [3, 10, 10]],
  ['communication-prohibited', [3, 13, 13]],
  ['source-quench', [4, 0, 255]],
  ['redirect', [5, 0, 255]],
  ['echo-request', [8, 0, 255]],
  ['ping', [8, 0, 255]],
  ['router-advertisement', [9, 0, 255]],
  ['router-solicitation', [10, 0, 255]],
  ['time-exceeded', [11, 0, 255]],
  ['ttl-exceeded', [11, 0, 255]],
  ['ttl-zero-during-transit', [11, 0, 0]],
  ['ttl-zero-during-reassembly', [11, 1, 1]],
  ['parameter-problem', [12, 0, 255]],
  ['timestamp-request', [13, 0, 255]],
  ['timestamp-reply', [14, 0, 255]],
]);

const ICMP6_NAMES: ReadonlyMap<string, [number, number, number]> = new Map([
  ['destination-unreachable', [1, 0, 255]],
  ['no-route', [1, 0, 0]],
  ['communication-prohibited', [1, 1, 1]],
  ['address-unreachable', [1, 3, 3]],
  ['port-unreachable', [1, 4, 4]],
  ['packet-too-big', [2, 0, 255]],
  ['time-exceeded', [3, 0, 255]],
  ['parameter-problem', [4, 0, 255]],
  ['echo-request', [128, 0, 255]],
  ['echo-reply', [129, 0, 255]],
  ['router-solicitation', [133, 0, 255]],
  ['router-advertisement', [134, 0, 255]],
  ['neighbour-solicitation', [135, 0, 255]],
  ['neighbour-advertisement', [136, 0, 255]],
]);

function icmpBuilder(kind: 'icmp' | 'icmp6', fail: Fail): ExtBuilder {
  let m: IcmpMatch | undefined;
  const optName = kind === 'icmp' ? '--icmp-type' : '--icmpv6-type';
  return {
    name: kind,
    take(opt, neg, args, i) {
      if (opt !== optName) return -1;
      const s = arg(args, i, opt, fail);
      const named = (kind === 'icmp' ? ICMP_NAMES : ICMP6_NAMES).get(s.toLowerCase());
      if (named) {
        m = { kind, type: named[0], codeLo: named[1], codeHi: named[2], neg };
        return 1;
      }
      const mm = /^(\d{1,3})(?:\/(\d{1,3}))?$/.exec(s);
      if (!mm || Number(mm[1]) > 255 || (mm[2] !== undefined && Number(mm[2]) > 255)) {
        fail(
          `invalid ICMP type "${s}" for ${opt} (expected a name like echo-request, a number, or type/code)`,
        );
      }
      const type = Number(mm[1]);
      const code = mm[2] === undefined ? undefined : Number(mm[2]);
      m = { kind, type, codeLo: code ?? 0, codeHi: code ?? 255, neg };
      return 1;
    },
    finish() {
      if (!m) fail(`-m ${kind} needs ${optName}`);
      return m;
    },
  };
}

function maskFor(family: Family): IP {
  return family === 4 ? v4(0xffffffff) : v6((1n << 128n) - 1n);
}

function parseAddrMatch(s: string, neg: boolean, opt: string, st: ParseState): AddrMatch {
  const prefix = parseHostPrefix(s, st.ctx.family);
  if (!prefix) st.fail(`invalid address "${s}" for ${opt} (expected an address or CIDR like 10.0.0.0/8)`);
  return { prefix, neg };
}

/** An address, `addr/len` or `addr/dotted-mask` (contiguous), host bits cleared. */
export function parseHostPrefix(s: string, family: Family): Prefix | undefined {
  // iptables reads an IPv4 address of fewer than four parts as padded with zero bytes
  // (xtables_numeric_to_ipaddr): dockerd's `-d 0/0`, `10.1/16` is 10.1.0.0/16.
  if (family === 4) {
    const m = /^(\d{1,3}(?:\.\d{1,3}){0,2})(\/.*)?$/.exec(s);
    if (m) {
      const parts = m[1]!.split('.');
      while (parts.length < 4) parts.push('0');
      s = `${parts.join('.')}${m[2] ?? ''}`;
    }
  }
  const slash = s.indexOf('/');
  if (slash >= 0 && family === 4) {
    const m = tryParseIP(s.slice(slash + 1));
    if (m && m.family === 4) {
      const inv = ~m.n >>> 0;
      if ((inv & (inv + 1)) !== 0) return undefined;
      const bits = 32 - Math.log2(inv + 1);
      return tryParsePrefix(`${s.slice(0, slash)}/${bits}`);
    }
  }
  const p = tryParsePrefix(s);
  if (!p || p.ip.family !== family) return undefined;
  return p;
}

function ctStates(s: string, allowNat: boolean, fail: Fail): number {
  let bits = 0;
  for (const part of s.split(',')) {
    const name = part.toUpperCase();
    if (!(name in CtStateBit) || (!allowNat && (name === 'SNAT' || name === 'DNAT'))) {
      fail(
        `unknown conntrack state "${part}" (expected ${allowNat ? 'INVALID, NEW, RELATED, ESTABLISHED, UNTRACKED, SNAT or DNAT' : 'INVALID, NEW, RELATED, ESTABLISHED or UNTRACKED'})`,
      );
    }
    bits |= CtStateBit[name as keyof typeof CtStateBit];
  }
  return bits;
}

function conntrackBuilder(st: ParseState): ExtBuilder {
  const m: { -readonly [K in keyof ConntrackMatch]: ConntrackMatch[K] } = { kind: 'conntrack' };
  const fail: Fail = st.fail;
  const addr = (s: string, neg: boolean, opt: string) => parseAddrMatch(s, neg, opt, st);
  return {
    name: 'conntrack',
    take(opt, neg, args, i) {
      const a = () => arg(args, i, opt, fail);
      switch (opt) {
        case '--ctstate':
          m.state = { bits: ctStates(a(), true, fail), neg };
          return 1;
        case '--ctproto': {
          const p = parseProto(a());
          if (p === undefined) fail(`unknown protocol "${args[i]}" for --ctproto`);
          m.proto = { proto: p, neg };
          return 1;
        }
        case '--ctorigsrc':
          m.origSrc = addr(a(), neg, opt);
          return 1;
        case '--ctorigdst':
          m.origDst = addr(a(), neg, opt);
          return 1;
        case '--ctreplsrc':
          m.replSrc = addr(a(), neg, opt);
          return 1;
        case '--ctrepldst':
          m.replDst = addr(a(), neg, opt);
          return 1;
        case '--ctorigsrcport':
          m.origSrcPort = portMatch(a(), neg, opt, fail);
          return 1;
        case '--ctorigdstport':
          m.origDstPort = portMatch(a(), neg, opt, fail);
          return 1;
        case '--ctreplsrcport':
          m.replSrcPort = portMatch(a(), neg, opt, fail);
          return 1;
        case '--ctrepldstport':
          m.replDstPort = portMatch(a(), neg, opt, fail);
          return 1;
        case '--ctstatus': {
          let bits = 0;
          for (const part of a().split(',')) {
            const n = part.toUpperCase();
            if (n === 'NONE') continue;
            if (n !== 'EXPECTED' && n !== 'SEEN_REPLY' && n !== 'ASSURED' && n !== 'CONFIRMED') {
              fail(
                `unknown conntrack status "${part}" (expected NONE, EXPECTED, SEEN_REPLY, ASSURED or CONFIRMED)`,
              );
            }
            bits |= CtStatus[n];
          }
          m.status = { bits, neg };
          return 1;
        }
        case '--ctdir': {
          if (neg) fail('conntrack: option "--ctdir" cannot be inverted');
          const d = a().toUpperCase();
          if (d !== 'ORIGINAL' && d !== 'REPLY') fail(`--ctdir takes ORIGINAL or REPLY, not "${args[i]}"`);
          m.dir = d;
          return 1;
        }
        default:
          return -1;
      }
    },
    finish() {
      return m;
    },
  };
}

function addrTypes(s: string, fail: Fail): number {
  let bits = 0;
  for (const part of s.split(',')) {
    const t = ADDR_TYPES.find((x) => x === part.toUpperCase());
    if (!t) fail(`unknown address type "${part}" (expected one of ${ADDR_TYPES.join(', ')})`);
    bits |= addrTypeBit(t);
  }
  return bits;
}

function recentBuilder(st: ParseState): ExtBuilder {
  const fail: Fail = st.fail;
  let command: RecentMatch['command'] | undefined;
  let neg = false;
  let name = 'DEFAULT';
  let seconds = 0;
  let reap = false;
  let hitcount = 0;
  let rttl = false;
  let side: 'src' | 'dst' = 'src';
  let mask = maskFor(st.ctx.family);
  return {
    name: 'recent',
    take(opt, n, args, i) {
      const cmd = (
        { '--set': 'set', '--rcheck': 'rcheck', '--update': 'update', '--remove': 'remove' } as const
      )[opt as '--set'];
      if (cmd) {
        if (command) fail('recent: use only one of --set, --rcheck, --update or --remove');
        command = cmd;
        neg = n;
        return 0;
      }
      switch (opt) {
        case '--name':
          name = arg(args, i, opt, fail);
          return 1;
        case '--seconds':
        case '--hitcount': {
          const v = parseUint(arg(args, i, opt, fail));
          if (v === undefined || v === 0) fail(`${opt} needs a positive integer, not "${args[i]}"`);
          if (opt === '--seconds') seconds = v;
          else hitcount = v;
          return 1;
        }
        case '--reap':
          reap = true;
          return 0;
        case '--rttl':
          rttl = true;
          return 0;
        case '--rsource':
          side = 'src';
          return 0;
        case '--rdest':
          side = 'dst';
          return 0;
        case '--mask': {
          const ip = tryParseIP(arg(args, i, opt, fail));
          if (!ip || ip.family !== st.ctx.family)
            fail(`--mask needs an address mask like 255.255.255.0, not "${args[i]}"`);
          mask = ip;
          return 1;
        }
        default:
          return -1;
      }
    },
    finish() {
      if (!command) fail('recent: you must specify one of --set, --rcheck, --update or --remove');
      if (reap && !seconds) fail('recent: --reap needs --seconds');
      if ((seconds || hitcount) && (command === 'set' || command === 'remove')) {
        fail('recent: --seconds and --hitcount only go with --rcheck or --update');
      }
      return { kind: 'recent', name, command, seconds, reap, hitcount, rttl, side, mask, neg };
    },
  };
}

function physdevBuilder(fail: Fail): ExtBuilder {
  const m: { -readonly [K in keyof PhysdevMatch]: PhysdevMatch[K] } = { kind: 'physdev' };
  return {
    name: 'physdev',
    take(opt, neg, args, i) {
      switch (opt) {
        case '--physdev-in':
          m.in = { name: arg(args, i, opt, fail), neg };
          return 1;
        case '--physdev-out':
          m.out = { name: arg(args, i, opt, fail), neg };
          return 1;
        case '--physdev-is-in':
          m.isIn = { neg };
          return 0;
        case '--physdev-is-out':
          m.isOut = { neg };
          return 0;
        case '--physdev-is-bridged':
          m.isBridged = { neg };
          return 0;
        default:
          return -1;
      }
    },
    finish() {
      if (!m.in && !m.out && !m.isIn && !m.isOut && !m.isBridged)
        fail('physdev: at least one option is required');
      return m;
    },
  };
}

function ipvsBuilder(st: ParseState): ExtBuilder {
  const fail = st.fail;
  const m: { -readonly [K in keyof IpvsMatch]: IpvsMatch[K] } = { kind: 'ipvs' };
  const port = (t: string, opt: string) => {
    const n = Number(t);
    if (!/^\d+$/.test(t) || n > 65535) fail(`ipvs: ${opt} needs a port number 0-65535, got "${t}"`);
    return n;
  };
  return {
    name: 'ipvs',
    take(opt, neg, args, i) {
      switch (opt) {
        case '--ipvs':
          m.ipvs = { neg };
          return 0;
        case '--vproto': {
          const t = arg(args, i, opt, fail);
          const proto = parseProto(t);
          if (proto === undefined) return fail(`ipvs: unknown protocol "${t}" for --vproto`);
          m.vproto = { proto, neg };
          return 1;
        }
        case '--vaddr': {
          const t = arg(args, i, opt, fail);
          const prefix = parseHostPrefix(t, st.ctx.family);
          if (!prefix)
            return fail(`ipvs: "${t}" is not an IPv${st.ctx.family} address or network for --vaddr`);
          m.vaddr = { prefix, neg };
          return 1;
        }
        case '--vport':
          m.vport = { port: port(arg(args, i, opt, fail), opt), neg };
          return 1;
        case '--vportctl':
          m.vportctl = { port: port(arg(args, i, opt, fail), opt), neg };
          return 1;
        case '--vdir': {
          const t = arg(args, i, opt, fail);
          if (t !== 'ORIGINAL' && t !== 'REPLY')
            return fail(`ipvs: --vdir takes ORIGINAL or REPLY, got "${t}"`);
          m.vdir = t;
          return 1;
        }
        case '--vmethod': {
          const t = arg(args, i, opt, fail).toUpperCase();
          if (t !== 'GATE' && t !== 'IPIP' && t !== 'MASQ')
            return fail(`ipvs: --vmethod takes GATE, IPIP or MASQ, got "${t}"`);
          m.vmethod = { method: t, neg };
          return 1;
        }
        default:
          return -1;
      }
    },
    finish() {
      if (!m.ipvs && !m.vproto && !m.vaddr && !m.vport && !m.vdir && !m.vmethod && !m.vportctl)
        fail('ipvs: at least one option is required');
      return m;
    },
  };
}

function multiportPorts(s: string, fail: Fail): PortRange[] {
  const out: PortRange[] = [];
  let slots = 0;
  for (const part of s.split(',')) {
    const r = parsePortRange(part);
    if (!r)
      fail(`invalid port "${part}" in multiport list (expected numbers and ranges like 80,443,8000:8080)`);
    slots += r.lo === r.hi ? 1 : 2;
    out.push(r);
  }
  if (slots > 15) fail('multiport: too many ports specified (at most 15, a range counts as two)');
  return out;
}

function simpleBuilder(name: string, st: ParseState): ExtBuilder {
  const fail: Fail = st.fail;
  switch (name) {
    case 'tcp':
    case 'udp':
    case 'sctp':
      return l4Builder(name, fail);
    case 'icmp':
      return icmpBuilder('icmp', fail);
    case 'icmp6':
    case 'icmpv6':
      return icmpBuilder('icmp6', fail);
    case 'comment': {
      let text: string | undefined;
      return {
        name,
        take(opt, _neg, args, i) {
          if (opt !== '--comment') return -1;
          text = arg(args, i, opt, fail);
          if (text.length > 255) fail('comment may not exceed 255 characters');
          return 1;
        },
        finish() {
          if (text === undefined) fail('-m comment needs --comment TEXT');
          return { kind: 'comment', text };
        },
      };
    }
    case 'mark':
    case 'connmark': {
      let mm: { value: number; mask: number; neg: boolean } | undefined;
      return {
        name,
        take(opt, neg, args, i) {
          if (opt !== '--mark') return -1;
          const p = parseMarkMask(arg(args, i, opt, fail));
          if (!p) fail(`invalid mark "${args[i]}" (expected value[/mask], e.g. 0x4000/0x4000)`);
          mm = { value: p.value, mask: p.mask, neg };
          return 1;
        },
        finish() {
          if (!mm) fail(`-m ${name} needs --mark value[/mask]`);
          return { kind: name, ...mm };
        },
      };
    }
    case 'multiport': {
      let mp: { dir: 'src' | 'dst' | 'any'; ports: PortRange[]; neg: boolean } | undefined;
      return {
        name,
        take(opt, neg, args, i) {
          const dir = (
            {
              '--sports': 'src',
              '--source-ports': 'src',
              '--dports': 'dst',
              '--destination-ports': 'dst',
              '--ports': 'any',
            } as const
          )[opt as '--ports'];
          if (!dir) return -1;
          const p = st.proto;
          if (
            st.protoNeg ||
            (p !== IPPROTO.TCP && p !== IPPROTO.UDP && p !== IPPROTO.SCTP && p !== 136 && p !== 33)
          ) {
            fail("multiport needs `-p tcp', `-p udp', `-p udplite', `-p sctp' or `-p dccp' before it");
          }
          if (mp) fail('multiport: only one of --sports, --dports or --ports per match');
          mp = { dir, ports: multiportPorts(arg(args, i, opt, fail), fail), neg };
          return 1;
        },
        finish() {
          if (!mp) fail('-m multiport needs --sports, --dports or --ports');
          return { kind: 'multiport', ...mp };
        },
      };
    }
    case 'conntrack':
      return conntrackBuilder(st);
    case 'state': {
      let sm: { bits: number; neg: boolean } | undefined;
      return {
        name,
        take(opt, neg, args, i) {
          if (opt !== '--state') return -1;
          sm = { bits: ctStates(arg(args, i, opt, fail), false, fail), neg };
          return 1;
        },
        finish() {
          if (!sm) fail('-m state needs --state');
          return { kind: 'state', ...sm };
        },
      };
    }
    case 'addrtype': {
      let src: { types: number; neg: boolean } | undefined;
      let dst: { types: number; neg: boolean } | undefined;
      let limitIfaceIn = false;
      let limitIfaceOut = false;
      return {
        name,
        take(opt, neg, args, i) {
          switch (opt) {
            case '--src-type':
              src = { types: addrTypes(arg(args, i, opt, fail), fail), neg };
              return 1;
            case '--dst-type':
              dst = { types: addrTypes(arg(args, i, opt, fail), fail), neg };
              return 1;
            case '--limit-iface-in':
              limitIfaceIn = true;
              return 0;
            case '--limit-iface-out':
              limitIfaceOut = true;
              return 0;
            default:
              return -1;
          }
        },
        finish() {
          if (limitIfaceIn && limitIfaceOut)
            fail('addrtype: use only one of --limit-iface-in and --limit-iface-out');
          return {
            kind: 'addrtype',
            ...(src ? { src } : {}),
            ...(dst ? { dst } : {}),
            limitIfaceIn,
            limitIfaceOut,
          };
        },
      };
    }
    case 'statistic': {
      let mode: 'random' | 'nth' | undefined;
      let prob: number | undefined;
      let every: number | undefined;
      let packet: number | undefined;
      let neg = false;
      return {
        name,
        take(opt, n, args, i) {
          switch (opt) {
            case '--mode': {
              const v = arg(args, i, opt, fail);
              if (v !== 'random' && v !== 'nth') fail(`statistic: bad mode "${v}" (expected random or nth)`);
              mode = v;
              return 1;
            }
            case '--probability': {
              const s = arg(args, i, opt, fail);
              const p = Number(s);
              if (s.trim() === '' || !Number.isFinite(p) || p < 0 || p > 1) {
                fail(`statistic: --probability must be a number between 0 and 1, not "${s}"`);
              }
              prob = p;
              neg = n;
              return 1;
            }
            case '--every': {
              const v = parseUint(arg(args, i, opt, fail));
              if (v === undefined || v === 0)
                fail(`statistic: --every needs a positive integer, not "${args[i]}"`);
              every = v;
              neg = n;
              return 1;
            }
            case '--packet': {
              const v = parseUint(arg(args, i, opt, fail));
              if (v === undefined) fail(`statistic: --packet needs a non-negative integer, not "${args[i]}"`);
              packet = v;
              return 1;
            }
            default:
              return -1;
          }
        },
        finish() {
          if (mode === 'random') {
            if (prob === undefined) fail('statistic: --mode random needs --probability');
            return { kind: 'statistic', mode, probability31: probabilityToFixed(prob), neg };
          }
          if (mode === 'nth') {
            if (every === undefined) fail('statistic: --mode nth needs --every');
            if (packet === undefined) fail('statistic: option "--every" also requires "--packet"');
            if (packet > every - 1) fail("statistic: --packet can't be bigger than --every minus one");
            return { kind: 'statistic', mode, every, packet, neg };
          }
          fail('statistic: --mode random or --mode nth is required');
        },
      };
    }
    case 'recent':
      return recentBuilder(st);
    case 'physdev':
      return physdevBuilder(fail);
    case 'ipvs':
      return ipvsBuilder(st);
    case 'set': {
      let sm: { name: string; dirs: ('src' | 'dst')[]; neg: boolean } | undefined;
      return {
        name,
        take(opt, neg, args, i) {
          if (opt !== '--match-set' && opt !== '--set') return -1;
          const setName = arg(args, i, opt, fail);
          const flags = arg(args, i + 1, opt, fail);
          const dirs = flags.split(',');
          if (dirs.length > 6 || dirs.some((d) => d !== 'src' && d !== 'dst')) {
            fail(`set: bad flags "${flags}" (expected src/dst per dimension, e.g. dst,dst)`);
          }
          sm = { name: setName, dirs: dirs as ('src' | 'dst')[], neg };
          return 2;
        },
        finish() {
          if (!sm) fail('-m set needs --match-set NAME src|dst[,...]');
          return { kind: 'set', ...sm };
        },
      };
    }
    case 'nfacct': {
      let acct: string | undefined;
      return {
        name,
        take(opt, _neg, args, i) {
          if (opt !== '--nfacct-name') return -1;
          acct = arg(args, i, opt, fail);
          return 1;
        },
        finish() {
          if (acct === undefined) fail('-m nfacct needs --nfacct-name NAME');
          return { kind: 'nfacct', name: acct };
        },
      };
    }
    default:
      fail(
        `unknown match "-m ${name}" (kpath models tcp, udp, sctp, icmp, icmp6, comment, mark, connmark, multiport, conntrack, state, addrtype, statistic, recent, physdev, set, ipvs, nfacct)`,
      );
  }
}

// ---- targets ---------------------------------------------------------------------------------

interface TargetBuilder {
  take(opt: string, neg: boolean, args: readonly string[], i: number): number;
  finish(st: ParseState): Target;
}

const STANDARD = new Set(['ACCEPT', 'DROP', 'RETURN']);
const KNOWN_TARGETS = new Set([
  'REJECT',
  'LOG',
  'MARK',
  'CONNMARK',
  'DNAT',
  'SNAT',
  'MASQUERADE',
  'REDIRECT',
  'NOTRACK',
  'CT',
  'CHECKSUM',
]);
const UNSUPPORTED_TARGETS = new Set([
  'QUEUE',
  'NFQUEUE',
  'TPROXY',
  'NETMAP',
  'TCPMSS',
  'TTL',
  'DSCP',
  'TOS',
  'NFLOG',
  'SET',
]);

const LOG_LEVELS: Record<string, number> = {
  emerg: 0,
  panic: 0,
  alert: 1,
  crit: 2,
  err: 3,
  error: 3,
  warning: 4,
  warn: 4,
  notice: 5,
  info: 6,
  debug: 7,
};

const REJECT_ALIASES: Record<string, RejectWith> = {
  'net-unreach': 'icmp-net-unreachable',
  'host-unreach': 'icmp-host-unreachable',
  'port-unreach': 'icmp-port-unreachable',
  'proto-unreach': 'icmp-proto-unreachable',
  'net-prohib': 'icmp-net-prohibited',
  'host-prohib': 'icmp-host-prohibited',
  'tcp-rst': 'tcp-reset',
  'admin-prohib': 'icmp-admin-prohibited',
  'no-route': 'icmp6-no-route',
  'adm-prohibited': 'icmp6-adm-prohibited',
  'addr-unreach': 'icmp6-addr-unreachable',
  'port-unreach6': 'icmp6-port-unreachable',
  'policy-fail': 'icmp6-policy-fail',
  'reject-route': 'icmp6-reject-route',
};

function parsePortSpan(s: string, fail: Fail, what: string): { minPort: number; maxPort: number } {
  const r = parsePortRange(s, '-');
  if (!r) fail(`invalid port range "${s}" for ${what} (expected a port or a range like 1024-2000)`);
  return { minPort: r.lo, maxPort: r.hi };
}

/** `ip[-ip][:port[-port]]`, IPv6 as `[ip[-ip]]:port[-port]` or a bare `ip[-ip]`. */
export function parseNatRange(s: string, family: Family, fail: Fail): NatRange {
  let ipPart = s;
  let portPart: string | undefined;
  if (family === 6) {
    if (s.startsWith('[')) {
      const end = s.indexOf(']');
      if (end < 0) fail(`invalid NAT range "${s}" (expected [addr]:port)`);
      ipPart = s.slice(1, end);
      const rest = s.slice(end + 1);
      if (rest.startsWith(':')) portPart = rest.slice(1);
      else if (rest !== '') fail(`invalid NAT range "${s}" (expected [addr]:port)`);
    }
  } else {
    const colon = s.indexOf(':');
    if (colon >= 0) {
      ipPart = s.slice(0, colon);
      portPart = s.slice(colon + 1);
    }
  }
  const out: { minIp?: IP; maxIp?: IP; minPort?: number; maxPort?: number } = {};
  if (ipPart !== '') {
    const dash = ipPart.indexOf('-');
    const a = tryParseIP(dash < 0 ? ipPart : ipPart.slice(0, dash));
    const b = dash < 0 ? a : tryParseIP(ipPart.slice(dash + 1));
    if (!a || !b || a.family !== family || b.family !== family) {
      fail(
        `invalid NAT address "${ipPart}" (expected an IPv${family} address or range like 10.0.0.1-10.0.0.5)`,
      );
    }
    out.minIp = a;
    out.maxIp = b;
  }
  if (portPart !== undefined) {
    const p = parsePortSpan(portPart, fail, 'NAT');
    out.minPort = p.minPort;
    out.maxPort = p.maxPort;
  }
  if (out.minIp === undefined && out.minPort === undefined) fail(`empty NAT range "${s}"`);
  return out;
}

function needsPortProto(st: ParseState, what: string): void {
  const p = st.proto;
  if (st.protoNeg || (p !== IPPROTO.TCP && p !== IPPROTO.UDP && p !== IPPROTO.SCTP && p !== 33)) {
    st.fail(`${what}: Need TCP, UDP, SCTP or DCCP with port specification (add -p tcp or -p udp)`);
  }
}

function targetBuilder(name: string, st: ParseState): TargetBuilder {
  const fail: Fail = st.fail;
  const family = st.ctx.family;
  switch (name) {
    case 'REJECT': {
      let w: RejectWith = family === 4 ? 'icmp-port-unreachable' : 'icmp6-port-unreachable';
      return {
        take(opt, _neg, args, i) {
          if (opt !== '--reject-with') return -1;
          const s = arg(args, i, opt, fail);
          const known = (family === 4 ? REJECT_WITH_V4 : REJECT_WITH_V6) as readonly string[];
          const v = known.includes(s)
            ? (s as RejectWith)
            : REJECT_ALIASES[family === 6 && s === 'port-unreach' ? 'port-unreach6' : s];
          if (!v || !known.includes(v))
            fail(`REJECT: unknown --reject-with "${s}" (expected one of ${known.join(', ')})`);
          w = v;
          return 1;
        },
        finish(s) {
          if (w === 'tcp-reset' && (s.proto !== IPPROTO.TCP || s.protoNeg)) {
            fail(
              'REJECT --reject-with tcp-reset is only valid with -p tcp (the kernel refuses it otherwise)',
            );
          }
          return { kind: 'REJECT', with: w };
        },
      };
    }
    case 'LOG': {
      let prefix: string | undefined;
      let level = 4;
      let flags = 0;
      const flagOpts: Record<string, number> = {
        '--log-tcp-sequence': LogFlag.TCPSEQ,
        '--log-tcp-options': LogFlag.TCPOPT,
        '--log-ip-options': LogFlag.IPOPT,
        '--log-uid': LogFlag.UID,
        '--log-macdecode': LogFlag.MACDECODE,
      };
      return {
        take(opt, _neg, args, i) {
          if (opt === '--log-prefix') {
            prefix = arg(args, i, opt, fail);
            if (prefix.length > 29) fail('LOG: --log-prefix may be at most 29 characters');
            return 1;
          }
          if (opt === '--log-level') {
            const s = arg(args, i, opt, fail);
            const v = /^[0-7]$/.test(s) ? Number(s) : LOG_LEVELS[s.toLowerCase()];
            if (v === undefined) fail(`LOG: bad --log-level "${s}" (expected 0-7 or a name like warning)`);
            level = v;
            return 1;
          }
          const f = flagOpts[opt];
          if (f === undefined) return -1;
          flags |= f;
          return 0;
        },
        finish() {
          return prefix === undefined ? { kind: 'LOG', level, flags } : { kind: 'LOG', prefix, level, flags };
        },
      };
    }
    case 'MARK':
    case 'CONNMARK': {
      let set: { value: number; mask: number } | undefined;
      let mode: 'save' | 'restore' | undefined;
      let nfmask = 0xffffffff;
      let ctmask = 0xffffffff;
      const mv = (opt: string, s: string) => {
        const p = parseMarkMask(s);
        if (!p) fail(`${name}: invalid value "${s}" for ${opt} (expected value[/mask])`);
        return p;
      };
      return {
        take(opt, _neg, args, i) {
          switch (opt) {
            case '--set-xmark': {
              const p = mv(opt, arg(args, i, opt, fail));
              set = { value: p.value, mask: p.mask };
              return 1;
            }
            case '--set-mark': {
              const p = mv(opt, arg(args, i, opt, fail));
              set = { value: p.value, mask: (p.mask | p.value) >>> 0 };
              return 1;
            }
            case '--and-mark': {
              const p = mv(opt, arg(args, i, opt, fail));
              set = { value: 0, mask: ~p.value >>> 0 };
              return 1;
            }
            case '--or-mark': {
              const p = mv(opt, arg(args, i, opt, fail));
              set = { value: p.value, mask: p.value };
              return 1;
            }
            case '--xor-mark': {
              const p = mv(opt, arg(args, i, opt, fail));
              set = { value: p.value, mask: 0 };
              return 1;
            }
            case '--save-mark':
            case '--restore-mark':
              if (name !== 'CONNMARK') return -1;
              mode = opt === '--save-mark' ? 'save' : 'restore';
              return 0;
            case '--mask':
            case '--nfmask':
            case '--ctmask': {
              if (name !== 'CONNMARK') return -1;
              const v = parseUint(arg(args, i, opt, fail));
              if (v === undefined) fail(`CONNMARK: invalid mask "${args[i]}" for ${opt}`);
              if (opt !== '--ctmask') nfmask = v;
              if (opt !== '--nfmask') ctmask = v;
              return 1;
            }
            default:
              return -1;
          }
        },
        finish() {
          if (set && mode) fail(`${name}: use either a mark value or --save-mark/--restore-mark, not both`);
          if (mode) return { kind: 'CONNMARK', mode, nfmask, ctmask };
          if (!set) fail(`${name} needs one of --set-xmark, --set-mark, --and-mark, --or-mark, --xor-mark`);
          return name === 'MARK' ? { kind: 'MARK', ...set } : { kind: 'CONNMARK', mode: 'set', ...set };
        },
      };
    }
    case 'DNAT':
    case 'SNAT': {
      let range: NatRange | undefined;
      let random = false;
      let randomFully = false;
      let persistent = false;
      const rangeOpt = name === 'DNAT' ? '--to-destination' : '--to-source';
      return {
        take(opt, _neg, args, i) {
          if (opt === rangeOpt || (name === 'DNAT' && opt === '--to')) {
            if (range) fail(`${name}: only one ${rangeOpt} is supported`);
            range = parseNatRange(arg(args, i, opt, fail), family, fail);
            return 1;
          }
          if (opt === '--random') random = true;
          else if (opt === '--random-fully' && name === 'SNAT') randomFully = true;
          else if (opt === '--persistent') persistent = true;
          else return -1;
          return 0;
        },
        finish(s) {
          if (!range) fail(`${name} needs ${rangeOpt}`);
          if (range.minPort !== undefined) needsPortProto(s, name);
          return { kind: name, range, random, randomFully, persistent };
        },
      };
    }
    case 'MASQUERADE':
    case 'REDIRECT': {
      let ports: { minPort: number; maxPort: number } | undefined;
      let random = false;
      let randomFully = false;
      return {
        take(opt, _neg, args, i) {
          if (opt === '--to-ports') {
            ports = parsePortSpan(arg(args, i, opt, fail), fail, `${name} --to-ports`);
            return 1;
          }
          if (opt === '--random') random = true;
          else if (opt === '--random-fully' && name === 'MASQUERADE') randomFully = true;
          else return -1;
          return 0;
        },
        finish(s) {
          if (ports) needsPortProto(s, name);
          if (name === 'MASQUERADE') return { kind: name, ...(ports ?? {}), random, randomFully };
          return { kind: name, ...(ports ?? {}), random };
        },
      };
    }
    case 'NOTRACK':
      return {
        take: () => -1,
        finish: () => ({ kind: 'NOTRACK' }),
      };
    case 'CHECKSUM': {
      let fill = false;
      return {
        take(opt) {
          if (opt !== '--checksum-fill') return -1;
          fill = true;
          return 0;
        },
        finish() {
          if (!fill) fail('CHECKSUM target: Parameter --checksum-fill is required');
          return { kind: 'CHECKSUM' };
        },
      };
    }
    case 'CT': {
      let notrack = false;
      return {
        take(opt) {
          if (opt !== '--notrack') return -1;
          notrack = true;
          return 0;
        },
        finish() {
          if (!notrack) fail('CT: kpath models only -j CT --notrack');
          return { kind: 'CT', notrack: true };
        },
      };
    }
    default:
      fail(`internal: no builder for target ${name}`);
  }
}

const NAT_TARGETS = new Set(['DNAT', 'SNAT', 'MASQUERADE', 'REDIRECT']);

// ---- the rule ------------------------------------------------------------------------------

export interface ParsedRule {
  readonly rule: Rule;
  /** Counters given with -c p b, if any. */
  readonly counters?: Counters;
}

const PROTO_OPTS = new Set([
  '--sport',
  '--source-port',
  '--dport',
  '--destination-port',
  '--syn',
  '--tcp-flags',
]);

/** Parses rule arguments (everything after `-A CHAIN`). */
export function parseRuleArgs(args: readonly string[], ctx: RuleParseContext): ParsedRule {
  const fail: Fail = (msg) => {
    throw rulesError(ctx.line, msg);
  };
  const st: ParseState = { ctx, fail, proto: undefined, protoNeg: false };
  const header = new Map<string, Match>();
  const exts: ExtBuilder[] = [];
  let target: { name: string; builder?: TargetBuilder; chain?: string; goto: boolean } | undefined;
  let counters: Counters | undefined;
  let neg = false;
  const builtin = ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'].includes(ctx.chain);

  const setHeader = (kind: string, m: Match, opt: string) => {
    if (header.has(kind)) fail(`multiple ${opt} flags not allowed`);
    header.set(kind, m);
  };

  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '!') {
      if (neg) fail('multiple "!" flags not allowed');
      neg = true;
      continue;
    }
    const n = neg;
    neg = false;
    const next = () => arg(args, ++i, a, fail);
    switch (a) {
      case '-s':
      case '--source':
      case '--src':
      case '-d':
      case '--destination':
      case '--dst': {
        const kind = a.startsWith('-s') || a.startsWith('--s') ? 'src' : 'dst';
        const text = next();
        const prefix = parseHostPrefix(text, ctx.family);
        if (!prefix)
          fail(`invalid address "${text}" for ${a} (expected an IPv${ctx.family} address or CIDR)`);
        if (prefix.bits === 0 && !n) continue; // 0.0.0.0/0 matches everything; iptables drops it
        setHeader(kind, { kind, prefix, neg: n }, a);
        continue;
      }
      case '-i':
      case '--in-interface':
      case '-o':
      case '--out-interface': {
        const kind = a === '-i' || a === '--in-interface' ? 'iif' : 'oif';
        const name = next();
        if (name.length === 0 || name.length > 15) fail(`interface name "${name}" must be 1-15 characters`);
        if (builtin && kind === 'oif' && (ctx.chain === 'PREROUTING' || ctx.chain === 'INPUT')) {
          fail(`Can't use -o with ${ctx.chain}`);
        }
        if (builtin && kind === 'iif' && (ctx.chain === 'OUTPUT' || ctx.chain === 'POSTROUTING')) {
          fail(`Can't use -i with ${ctx.chain}`);
        }
        setHeader(kind, { kind, name, neg: n }, a);
        continue;
      }
      case '-p':
      case '--protocol': {
        const text = next();
        const p = parseProto(text);
        if (p === undefined) fail(`unknown protocol "${text}" specified (use a name like tcp or a number)`);
        if (header.has('proto')) fail(`multiple ${a} flags not allowed`);
        st.proto = p;
        st.protoNeg = n;
        if (p === 0 && !n) continue; // -p all
        header.set('proto', { kind: 'proto', proto: p, neg: n });
        continue;
      }
      case '-m':
      case '--match': {
        if (n) fail('"!" cannot be used before -m');
        const name = next();
        exts.push(simpleBuilder(name, st));
        continue;
      }
      case '-j':
      case '--jump':
      case '-g':
      case '--goto': {
        if (n) fail(`"!" cannot be used before ${a}`);
        if (target) fail('multiple -j/-g flags not allowed');
        const name = next();
        const goto = a === '-g' || a === '--goto';
        if (goto || (!STANDARD.has(name) && !KNOWN_TARGETS.has(name))) {
          if (UNSUPPORTED_TARGETS.has(name)) fail(`target ${name} is not modelled by kpath`);
          if (!/^[A-Za-z0-9_.:-]{1,28}$/.test(name) && !/^[^\s!-][^\s]{0,28}$/.test(name)) {
            fail(`invalid chain name "${name}"`);
          }
          target = { name, chain: name, goto };
        } else if (STANDARD.has(name)) {
          target = { name, goto: false };
        } else {
          if (NAT_TARGETS.has(name) && ctx.table !== 'nat')
            fail(`target ${name} is only valid in the nat table`);
          if (name === 'CHECKSUM' && ctx.table !== 'mangle')
            fail('target CHECKSUM is only valid in the mangle table');
          if ((name === 'NOTRACK' || name === 'CT') && ctx.table !== 'raw') {
            fail(`target ${name} is only valid in the raw table`);
          }
          target = { name, builder: targetBuilder(name, st), goto: false };
        }
        continue;
      }
      case '-c':
      case '--set-counters': {
        const p = parseUint(next(), Number.MAX_SAFE_INTEGER);
        const b = parseUint(next(), Number.MAX_SAFE_INTEGER);
        if (p === undefined || b === undefined) fail('-c needs two numbers: packets and bytes');
        counters = { packets: p, bytes: b };
        continue;
      }
      default:
        break;
    }
    if (!a.startsWith('-')) fail(`unexpected argument "${a}"; options start with - or --`);
    // An option for the target, or for a loaded match (most recent first), or a protocol option.
    if (target?.builder) {
      const took = target.builder.take(a, n, args, i + 1);
      if (took >= 0) {
        i += took;
        continue;
      }
    }
    let handled = false;
    for (let k = exts.length - 1; k >= 0; k--) {
      const took = exts[k]!.take(a, n, args, i + 1);
      if (took >= 0) {
        i += took;
        handled = true;
        break;
      }
    }
    if (handled) continue;
    const implicit = implicitProtoMatch(a, st);
    if (implicit) {
      const b = simpleBuilder(implicit, st);
      exts.push(b);
      const took = b.take(a, n, args, i + 1);
      if (took >= 0) {
        i += took;
        continue;
      }
    }
    if (PROTO_OPTS.has(a) && !implicit) {
      fail(`unknown option "${a}": port options need -p tcp, -p udp or -p sctp before them`);
    }
    fail(`unknown option "${a}"${target ? ` for target ${target.name} or the loaded matches` : ''}`);
  }
  if (neg) fail('"!" at the end of the rule negates nothing');

  const matches: Match[] = [];
  for (const k of HEADER_ORDER) {
    const m = header.get(k);
    if (m) matches.push(m);
  }
  for (const b of exts) {
    const m = b.finish();
    if ((m.kind === 'tcp' || m.kind === 'udp' || m.kind === 'sctp') && !protoIs(st, m.kind)) {
      fail(`-m ${m.kind} needs -p ${m.kind} in the same rule`);
    }
    matches.push(m);
  }
  let t: Target | undefined;
  if (target) {
    if (target.builder) t = target.builder.finish(st);
    else if (target.chain !== undefined) t = { kind: target.goto ? 'goto' : 'jump', chain: target.chain };
    else t = { kind: target.name as 'ACCEPT' | 'DROP' | 'RETURN' };
  }
  const rule: Rule = t
    ? { matches, target: t, counters: counters ?? { packets: 0, bytes: 0 } }
    : { matches, counters: counters ?? { packets: 0, bytes: 0 } };
  return counters ? { rule, counters } : { rule };
}

function protoIs(st: ParseState, kind: 'tcp' | 'udp' | 'sctp'): boolean {
  const want = kind === 'tcp' ? IPPROTO.TCP : kind === 'udp' ? IPPROTO.UDP : IPPROTO.SCTP;
  return st.proto === want && !st.protoNeg;
}

function implicitProtoMatch(opt: string, st: ParseState): string | undefined {
  if (st.protoNeg || st.proto === undefined) return undefined;
  if (st.proto === IPPROTO.ICMP && opt === '--icmp-type') return 'icmp';
  if (st.proto === IPPROTO.ICMPV6 && opt === '--icmpv6-type') return 'icmp6';
  if (!PROTO_OPTS.has(opt)) return undefined;
  if (st.proto === IPPROTO.TCP) return 'tcp';
  if (st.proto === IPPROTO.UDP) return 'udp';
  if (st.proto === IPPROTO.SCTP) return 'sctp';
  return undefined;
}
