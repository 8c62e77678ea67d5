/**
 * Read `ipvsadm-save -n` output (the same text `ipvsadm -R` takes) into service specs, so a real
 * node's dump can be loaded. Understands -A/--add-service and -a/--add-server lines with
 * -t/--tcp-service, -u/--udp-service, --sctp-service, -s/--scheduler, -p/--persistent [timeout]
 * (300 s when the value is omitted), -M/--netmask, -b/--sched-flags, -r/--real-server,
 * -m/--masquerading, -g/--gatewaying, -i/--ipip, -w/--weight, -x/--u-threshold, -y/--l-threshold.
 * Blank lines and lines starting with # are skipped. Errors name the line.
 */
import type { IP } from '../addr.js';
import { tryParseIP } from '../addr.js';
import { ErrorCodes, KpathError } from '../errors.js';
import type {
  IpvsDestinationSpec,
  IpvsForward,
  IpvsProtocol,
  IpvsSchedFlag,
  IpvsSchedulerName,
  IpvsServiceSpec,
} from './types.js';

const SCHEDULERS: ReadonlySet<string> = new Set([
  'rr',
  'wrr',
  'lc',
  'wlc',
  'sed',
  'nq',
  'dh',
  'sh',
  'mh',
  'lblc',
  'lblcr',
  'fo',
  'ovf',
  'twos',
]);

function fail(line: number, msg: string): never {
  throw new KpathError(ErrorCodes.INVALID, `ipvsadm-save line ${line}: ${msg}`);
}

function addrPort(text: string, line: number): { ip: IP; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:]+)(?::(\d+))?$/.exec(text);
  const ip = m ? tryParseIP(m[1]!) : undefined;
  if (!m || !ip) fail(line, `"${text}" is not address:port (e.g. 10.96.0.10:53 or [fd00::10]:53)`);
  const port = m[2] === undefined ? 0 : Number(m[2]);
  if (!(port >= 0 && port <= 65535)) fail(line, `port in "${text}" must be 0..65535`);
  return { ip, port };
}

function maskBits(text: string, family: 4 | 6, line: number): number {
  if (family === 6 || /^\d+$/.test(text)) {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0 || n > (family === 4 ? 32 : 128)) fail(line, `bad netmask "${text}"`);
    return n;
  }
  const ip = tryParseIP(text);
  if (ip?.family !== 4) fail(line, `bad netmask "${text}" (expected e.g. 255.255.255.0)`);
  const n = ip.n >>> 0;
  const bits = 32 - Math.log2((~n >>> 0) + 1 || 2 ** 32);
  if (!Number.isInteger(bits) || (bits < 32 && (n << bits) >>> 0 !== 0))
    fail(line, `netmask "${text}" is not contiguous`);
  return bits;
}

interface Draft {
  protocol: IpvsProtocol;
  vip: IP;
  port: number;
  scheduler: IpvsSchedulerName;
  flags: IpvsSchedFlag[];
  persistence?: { timeoutSeconds: number; netmaskBits: number };
  destinations: IpvsDestinationSpec[];
}

/** Parse ipvsadm-save / ipvsadm -R text into specs (destinations in file order = the order added). */
export function parseIpvsadmSave(text: string): IpvsServiceSpec[] {
  const drafts = new Map<string, Draft>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const ln = i + 1;
    const raw = lines[i]!.trim();
    if (!raw || raw.startsWith('#')) continue;
    const tok = raw.split(/\s+/);
    const cmd = tok[0];
    if (cmd !== '-A' && cmd !== '--add-service' && cmd !== '-a' && cmd !== '--add-server')
      fail(ln, `"${cmd}": only -A (add service) and -a (add server) lines are understood`);
    let protocol: IpvsProtocol | undefined;
    let vs: { ip: IP; port: number } | undefined;
    let sched: string | undefined;
    let timeout: number | undefined;
    let mask: string | undefined;
    let flags: string[] = [];
    let rs: { ip: IP; port: number } | undefined;
    let fwd: IpvsForward = 'Route';
    let weight = 1;
    let ux = 0;
    let ly = 0;
    const val = (j: number): string => {
      const v = tok[j + 1];
      if (v === undefined) fail(ln, `${tok[j]} needs a value`);
      return v;
    };
    const int = (j: number, max: number): number => {
      const v = val(j);
      const n = Number(v);
      if (!/^\d+$/.test(v) || n > max) fail(ln, `${tok[j]} ${v}: expected a whole number 0..${max}`);
      return n;
    };
    for (let j = 1; j < tok.length; j++) {
      const t = tok[j]!;
      switch (t) {
        case '-t':
        case '--tcp-service':
        case '-u':
        case '--udp-service':
        case '--sctp-service':
          protocol = t === '-t' || t === '--tcp-service' ? 'TCP' : t === '--sctp-service' ? 'SCTP' : 'UDP';
          vs = addrPort(val(j), ln);
          j++;
          break;
        case '-s':
        case '--scheduler':
          sched = val(j++);
          if (!SCHEDULERS.has(sched)) fail(ln, `unknown scheduler "${sched}"`);
          break;
        case '-p':
        case '--persistent':
          if (tok[j + 1] !== undefined && /^\d+$/.test(tok[j + 1]!)) timeout = int(j++, 2 ** 31);
          else timeout = 300;
          break;
        case '-M':
        case '--netmask':
          mask = val(j++);
          break;
        case '-b':
        case '--sched-flags':
          flags = val(j++).split(',');
          break;
        case '-r':
        case '--real-server':
          rs = addrPort(val(j++), ln);
          break;
        case '-m':
        case '--masquerading':
          fwd = 'Masq';
          break;
        case '-g':
        case '--gatewaying':
          fwd = 'Route';
          break;
        case '-i':
        case '--ipip':
          fwd = 'Tunnel';
          break;
        case '-w':
        case '--weight':
          weight = int(j++, 65535);
          break;
        case '-x':
        case '--u-threshold':
          ux = int(j++, 2 ** 31);
          break;
        case '-y':
        case '--l-threshold':
          ly = int(j++, 2 ** 31);
          break;
        default:
          fail(ln, `unknown option "${t}"`);
      }
    }
    if (!protocol || !vs) fail(ln, 'no virtual service (-t, -u or --sctp-service address:port)');
    const key = `${protocol}|${vs.ip.text}|${vs.port}`;
    if (cmd === '-A' || cmd === '--add-service') {
      if (drafts.has(key)) fail(ln, `virtual service ${vs.ip.text}:${vs.port} added twice`);
      const scheduler = (sched ?? 'wlc') as IpvsSchedulerName;
      const fl: IpvsSchedFlag[] = [];
      for (const f of flags) {
        const named = f === 'flag-1' ? `${scheduler}-fallback` : f === 'flag-2' ? `${scheduler}-port` : f;
        if (named !== 'sh-fallback' && named !== 'sh-port' && named !== 'mh-fallback' && named !== 'mh-port')
          fail(ln, `scheduler flag "${f}" is not one of sh-fallback, sh-port, mh-fallback, mh-port`);
        fl.push(named);
      }
      const d: Draft = { protocol, vip: vs.ip, port: vs.port, scheduler, flags: fl, destinations: [] };
      if (timeout !== undefined)
        d.persistence = {
          timeoutSeconds: timeout,
          netmaskBits: mask !== undefined ? maskBits(mask, vs.ip.family, ln) : vs.ip.family === 4 ? 32 : 128,
        };
      drafts.set(key, d);
    } else {
      const d = drafts.get(key);
      if (!d) fail(ln, `real server for ${vs.ip.text}:${vs.port}, which no earlier -A line adds`);
      if (!rs) fail(ln, 'no real server (-r address:port)');
      const spec: { -readonly [K in keyof IpvsDestinationSpec]: IpvsDestinationSpec[K] } = {
        ip: rs.ip,
        port: rs.port || vs.port,
        weight,
        forward: fwd,
      };
      if (ux) spec.upperThreshold = ux;
      if (ly) spec.lowerThreshold = ly;
      d.destinations.push(spec);
    }
  }
  return [...drafts.values()];
}
