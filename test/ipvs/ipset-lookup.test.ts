/**
 * The ipset store's lookups (netmodel/netfilter/ipset.ts), which key members by numbers (an IPv4
 * address as an integer, protocol and port as one number) and look a packet's element up without
 * building it (testPacket, what the set match and the flow cache call per packet):
 *
 * - against the real kernel: the same sets loaded with `ipset restore` into a network namespace this
 *   test creates and deletes, and `ipset test` of members and near misses (another port, protocol,
 *   address, network) answering as the emulation's test() does. For the net types a host element
 *   tests containment in any member net (hash_net4_uadt with the host prefix: mtype_test_cidrs);
 * - the packet path: testPacket(dirs, p) answers what test() answers for the element xt_set builds
 *   from the packet (each dimension from the source or destination by its flag; fewer flags than
 *   the set's dimensions never match, ip_set_test: opt->dim < set->type->dimension).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IP, parseIP, parsePrefix } from '../../netmodel/addr.js';
import { type IpSetElement, IpSetStore, type IpSetType } from '../../netmodel/netfilter/index.js';
import { packet } from '../../netmodel/packet.js';

const NS = `kp-ipsetlk-${process.pid}`;
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const missing = ['/usr/sbin/ip', '/usr/sbin/ipset'].filter((b) => !existsSync(b));
const skipReason = !isRoot
  ? 'needs root to create a network namespace'
  : missing.length
    ? `missing ${missing.join(', ')} (apt-get install -y ipset iproute2)`
    : '';

const PROTO_NAME: Record<number, string> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };
const ip = parseIP;

/** The element as ipset's command line spells it. */
function elementText(type: IpSetType, e: IpSetElement): string {
  const addr = (a: IP) => a.text;
  const pp = () => `${PROTO_NAME[e.proto!]}:${e.port}`;
  switch (type) {
    case 'hash:ip':
      return addr(e.ip!);
    case 'hash:ip,port':
      return `${addr(e.ip!)},${pp()}`;
    case 'hash:ip,port,ip':
      return `${addr(e.ip!)},${pp()},${addr(e.ip2!)}`;
    case 'hash:ip,port,net':
      return `${addr(e.ip!)},${pp()},${e.net ? e.net.text : addr(e.ip2!)}`;
    case 'hash:net':
      return e.net ? e.net.text : addr(e.ip!);
    case 'bitmap:port':
      return String(e.port);
  }
}

interface SetCase {
  name: string;
  type: IpSetType;
  family: 4 | 6;
  members: IpSetElement[];
  /** Elements to test (members and near misses); for the net types `ip` / `ip2` is a host. */
  probes: IpSetElement[];
}

const V4 = { ip: ip('10.96.0.10'), proto: 6, port: 80 };
const CASES: SetCase[] = [
  {
    name: 'CIP',
    type: 'hash:ip,port',
    family: 4,
    members: [
      V4,
      { ip: ip('10.96.0.10'), proto: 17, port: 53 },
      { ip: ip('192.168.7.1'), proto: 6, port: 443 },
    ],
    probes: [
      V4,
      { ...V4, port: 81 },
      { ...V4, proto: 17 },
      { ...V4, proto: 132 },
      { ip: ip('10.96.0.10'), proto: 17, port: 53 },
      { ip: ip('10.96.0.11'), proto: 6, port: 80 },
      // An address above 2^31 (a negative 32-bit integer as a key).
      { ip: ip('192.168.7.1'), proto: 6, port: 443 },
      { ip: ip('192.168.7.1'), proto: 6, port: 80 },
    ],
  },
  {
    name: 'CIP6',
    type: 'hash:ip,port',
    family: 6,
    members: [{ ip: ip('fd00::a'), proto: 6, port: 80 }],
    probes: [
      { ip: ip('fd00::a'), proto: 6, port: 80 },
      { ip: ip('fd00::b'), proto: 6, port: 80 },
      { ip: ip('fd00::a'), proto: 17, port: 80 },
    ],
  },
  {
    name: 'LOOP',
    type: 'hash:ip,port,ip',
    family: 4,
    members: [{ ip: ip('10.244.1.5'), proto: 6, port: 8080, ip2: ip('10.244.1.5') }],
    probes: [
      { ip: ip('10.244.1.5'), proto: 6, port: 8080, ip2: ip('10.244.1.5') },
      { ip: ip('10.244.1.5'), proto: 6, port: 8080, ip2: ip('10.244.1.6') },
      { ip: ip('10.244.1.5'), proto: 17, port: 8080, ip2: ip('10.244.1.5') },
    ],
  },
  {
    name: 'SRCNET',
    type: 'hash:ip,port,net',
    family: 4,
    members: [
      { ip: ip('10.96.0.20'), proto: 6, port: 80, net: parsePrefix('10.0.0.0/24') },
      { ip: ip('10.96.0.20'), proto: 6, port: 80, net: parsePrefix('172.16.0.0/12') },
    ],
    probes: [
      { ip: ip('10.96.0.20'), proto: 6, port: 80, ip2: ip('10.0.0.77') },
      { ip: ip('10.96.0.20'), proto: 6, port: 80, ip2: ip('172.20.1.1') },
      { ip: ip('10.96.0.20'), proto: 6, port: 80, ip2: ip('10.0.1.1') },
      { ip: ip('10.96.0.20'), proto: 6, port: 81, ip2: ip('10.0.0.77') },
    ],
  },
  {
    name: 'NETS',
    type: 'hash:net',
    family: 4,
    members: [{ net: parsePrefix('10.0.0.0/8') }, { net: parsePrefix('192.168.1.0/24') }],
    probes: [{ ip: ip('10.1.2.3') }, { ip: ip('192.168.1.9') }, { ip: ip('192.168.2.9') }],
  },
  {
    name: 'IPS',
    type: 'hash:ip',
    family: 4,
    members: [{ ip: ip('10.240.0.11') }, { ip: ip('200.1.1.1') }],
    probes: [{ ip: ip('10.240.0.11') }, { ip: ip('200.1.1.1') }, { ip: ip('10.240.0.12') }],
  },
  {
    name: 'NP',
    type: 'bitmap:port',
    family: 4,
    members: [{ port: 30080 }],
    probes: [{ port: 30080 }, { port: 30081 }],
  },
];

function store(): IpSetStore {
  const s = new IpSetStore();
  for (const c of CASES) {
    s.create(c.name, c.type, c.family, c.type === 'bitmap:port' ? { range: { from: 0, to: 65535 } } : {});
    for (const m of c.members) s.add(c.name, m);
  }
  return s;
}

function restoreText(): string {
  const lines: string[] = [];
  for (const c of CASES) {
    const opts = c.type === 'bitmap:port' ? 'range 0-65535' : `family ${c.family === 4 ? 'inet' : 'inet6'}`;
    lines.push(`create ${c.name} ${c.type} ${opts}`);
    for (const m of c.members) lines.push(`add ${c.name} ${elementText(c.type, m)}`);
  }
  return `${lines.join('\n')}\n`;
}

let nsReady = false;
describe.skipIf(skipReason !== '')(
  `ipset lookups against the real kernel${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    beforeAll(() => {
      execFileSync('ip', ['netns', 'add', NS]);
      nsReady = true;
      execFileSync('ip', ['netns', 'exec', NS, 'ipset', 'restore'], { input: restoreText() });
    });
    afterAll(() => {
      if (nsReady) execFileSync('ip', ['netns', 'delete', NS]);
    });

    it('ipset test answers as the emulated store for members and near misses of every set type', () => {
      const s = store();
      const rows: string[] = [];
      const want: string[] = [];
      for (const c of CASES) {
        for (const e of c.probes) {
          const text = elementText(c.type, e);
          const r = spawnSync('ip', ['netns', 'exec', NS, 'ipset', 'test', c.name, text], {
            encoding: 'utf8',
          });
          want.push(`${c.name} ${text}: ${r.status === 0}`);
          rows.push(`${c.name} ${text}: ${s.test(c.name, e)}`);
        }
      }
      expect(rows).toEqual(want);
      // Both answers occur (a lookup that always said no, or always yes, would not pass).
      expect(want.filter((w) => w.endsWith('true')).length).toBeGreaterThan(5);
      expect(want.filter((w) => w.endsWith('false')).length).toBeGreaterThan(5);
    });
  },
);

describe('ipset packet lookups', () => {
  it('testPacket answers what test() answers for the element xt_set builds from the packet', () => {
    const s = store();
    const addrs = ['10.96.0.10', '10.96.0.20', '10.0.0.77', '10.244.1.5', '10.240.0.11', '192.168.7.1'].map(
      (a) => ip(a),
    );
    const ports = [80, 53, 443, 8080, 30080];
    const protos = ['tcp', 'udp', 'sctp'] as const;
    const flagSets: ('src' | 'dst')[][] = [
      ['dst'],
      ['src'],
      ['dst', 'dst'],
      ['src', 'dst'],
      ['dst', 'src'],
      ['dst', 'dst', 'src'],
      ['dst', 'dst', 'dst'],
      ['src', 'src', 'src'],
    ];
    const PROTO = { tcp: 6, udp: 17, sctp: 132 };
    let seen = 0;
    let yes = 0;
    for (const c of CASES.filter((x) => x.family === 4))
      for (const src of addrs)
        for (const dst of addrs)
          for (const proto of protos)
            for (const sport of ports)
              for (const dport of ports) {
                const p = packet({ proto, src, dst, sport, dport });
                for (const dirs of flagSets) {
                  const pick = (i: number) => (dirs[i] === 'src' ? 'src' : 'dst');
                  const dims =
                    c.type === 'bitmap:port' ? ['port'] : c.type.replace(/^(hash|bitmap):/, '').split(',');
                  // xt_set's element, dimension by dimension (the third address is `ip2`).
                  const e: { ip?: IP; proto?: number; port?: number; ip2?: IP } = {};
                  dims.forEach((d, i) => {
                    if (i >= dirs.length) return;
                    if (d === 'port') {
                      e.proto = PROTO[proto];
                      e.port = pick(i) === 'src' ? sport : dport;
                    } else if (i === 0) e.ip = pick(i) === 'src' ? src : dst;
                    else e.ip2 = pick(i) === 'src' ? src : dst;
                  });
                  const want = dirs.length >= dims.length && s.test(c.name, e);
                  expect(s.testPacket(c.name, dirs, p), `${c.name} ${dirs} ${JSON.stringify(e)}`).toBe(want);
                  seen++;
                  if (want) yes++;
                }
              }
    expect(seen).toBeGreaterThan(10_000);
    expect(yes).toBeGreaterThan(100);
    expect(s.testPacket('MISSING', ['dst'], packet({ proto: 'tcp', src: addrs[0]!, dst: addrs[1]! }))).toBe(
      false,
    );
  });

  it('deleting a member forgets it (and only it); flush empties the set', () => {
    const s = store();
    s.del('CIP', V4);
    expect(s.test('CIP', V4)).toBe(false);
    expect(s.test('CIP', { ip: ip('10.96.0.10'), proto: 17, port: 53 })).toBe(true);
    s.del('SRCNET', { ip: ip('10.96.0.20'), proto: 6, port: 80, net: parsePrefix('10.0.0.0/24') });
    expect(s.test('SRCNET', { ip: ip('10.96.0.20'), proto: 6, port: 80, ip2: ip('10.0.0.77') })).toBe(false);
    expect(s.test('SRCNET', { ip: ip('10.96.0.20'), proto: 6, port: 80, ip2: ip('172.20.1.1') })).toBe(true);
    s.flush('CIP');
    expect(s.test('CIP', { ip: ip('10.96.0.10'), proto: 17, port: 53 })).toBe(false);
    expect(s.members('CIP')).toEqual([]);
  });
});
