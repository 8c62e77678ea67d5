/**
 * ipvsadm's text, column for column (ipvsadm.c: print_title, print_service_entry with
 * "  -> %-28s %-7s %-6d %-10u %-10u", print_largenum "%9llu", print_conn "%-3s %-6s %-11s %-18s
 * %-18s %s"; list_all's header), and ipvsadm-save round trips.
 */
import { describe, expect, it } from 'vitest';
import {
  connBucket,
  IpvsTable,
  ipvsIn,
  ipvsJson,
  jhash,
  parseIpvsadmSave,
  renderIpvsadmConnections,
  renderIpvsadmList,
  renderIpvsadmSave,
  renderIpvsadmTimeouts,
} from '../../netmodel/ipvs/index.js';
import { rs, tcp, vs } from './builders.js';

function cluster(connTabSize?: number): IpvsTable {
  const t = new IpvsTable(connTabSize ? { connTabSize } : {});
  t.sync([
    vs('10.96.0.1:443', 'rr', [rs('192.168.0.1:6443')], {
      persistence: { timeoutSeconds: 10800, netmaskBits: 32 },
    }),
    vs('udp:10.96.0.10:53', 'rr', [rs('10.244.1.3:53'), rs('10.244.0.2:53')]),
    vs('10.96.0.10:53', 'rr', [rs('10.244.0.2:53'), rs('10.244.1.3:53')]),
    vs('10.96.0.20:80', 'sh', [rs('10.244.1.5:8080', 0)], { flags: ['sh-fallback', 'sh-port'] }),
    vs('192.168.0.10:30080', 'mh', [rs('10.244.1.5:8080')], {
      persistence: { timeoutSeconds: 60, netmaskBits: 24 },
    }),
  ]);
  return t;
}

const nums = (...n: number[]) => n.map((x) => String(x).padStart(9)).join('');

describe('ipvsadm -Ln', () => {
  // libipvs ipvs_cmp_services compares addresses as `int r = ntohl(a) - ntohl(b)`: the unsigned
  // difference read as signed, so 192.168.0.10 - 10.96.0.1 = 0xB647FFF9 is negative and 192.168.0.10
  // lists before 10.96.0.1 (as a real node with NodePorts on 192.168.x shows).
  it('prints the header, services sorted by protocol then address, real servers by address', () => {
    expect(renderIpvsadmList(cluster())).toBe(
      [
        'IP Virtual Server version 1.2.1 (size=4096)',
        'Prot LocalAddress:Port Scheduler Flags',
        '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
        'TCP  192.168.0.10:30080 mh persistent 60 mask 255.255.255.0',
        '  -> 10.244.1.5:8080              Masq    1      0          0         ',
        'TCP  10.96.0.1:443 rr persistent 10800',
        '  -> 192.168.0.1:6443             Masq    1      0          0         ',
        'TCP  10.96.0.10:53 rr',
        '  -> 10.244.0.2:53                Masq    1      0          0         ',
        '  -> 10.244.1.3:53                Masq    1      0          0         ',
        'TCP  10.96.0.20:80 sh (sh-fallback,sh-port)',
        '  -> 10.244.1.5:8080              Masq    0      0          0         ',
        'UDP  10.96.0.10:53 rr',
        '  -> 10.244.0.2:53                Masq    1      0          0         ',
        '  -> 10.244.1.3:53                Masq    1      0          0         ',
        '',
      ].join('\n'),
    );
  });

  it('--stats: 33-column names and 9-column counters', () => {
    const t = new IpvsTable();
    t.addService(vs('10.96.0.10:80', 'rr', [rs('10.244.1.2:8080')]));
    ipvsIn(t, tcp('10.0.0.1:1000', '10.96.0.10:80', 'S', 60), 0);
    ipvsIn(t, tcp('10.0.0.1:1000', '10.96.0.10:80', 'A', 52), 0);
    expect(renderIpvsadmList(t, { stats: true })).toBe(
      [
        'IP Virtual Server version 1.2.1 (size=4096)',
        'Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes',
        '  -> RemoteAddress:Port',
        // "%-33s" then print_largenum's "%9llu" five times
        `${'TCP  10.96.0.10:80'.padEnd(33)}${nums(1, 2, 0, 112, 0)}`,
        // "  -> %-28s" then the same
        `  -> ${'10.244.1.2:8080'.padEnd(28)}${nums(1, 2, 0, 112, 0)}`,
        '',
      ].join('\n'),
    );
  });

  it('ipvsadm -L --timeout', () => {
    expect(renderIpvsadmTimeouts(new IpvsTable())).toBe('Timeout (tcp tcpfin udp): 900 120 300\n');
  });
});

describe('ipvsadm -Lnc', () => {
  it('lists connections and templates with mm:ss expiry, a bucket newest first', () => {
    // A one-bucket table: ip_vs_conn_hash links each entry at the bucket's head, and
    // ip_vs_sched_persist makes the template before the connection: the connection is listed first.
    const t = cluster(1);
    ipvsIn(t, tcp('10.244.0.7:40000', '10.96.0.1:443', 'S'), 0);
    ipvsIn(t, tcp('10.244.0.7:40000', '10.96.0.1:443', 'A'), 0);
    expect(renderIpvsadmConnections(t, 5000)).toBe(
      [
        'IPVS connection entries',
        'pro expire state       source             virtual            destination',
        'TCP 14:55  ESTABLISHED 10.244.0.7:40000   10.96.0.1:443      192.168.0.1:6443',
        'TCP 179:55 ASSURED     10.244.0.7:0       10.96.0.1:443      192.168.0.1:6443',
        '',
      ].join('\n'),
    );
  });

  it('jhash is lookup3 (include/linux/jhash.h restates hashlittle): its published test vectors', () => {
    const e = new TextEncoder();
    // lookup3.c driver5: hashlittle("", 0, 0) = 0xdeadbeef; "Four score and seven years ago" with
    // initval 0 -> 0x17770551, with 1 -> 0xcd628161.
    expect(jhash(e.encode(''), 0)).toBe(0xdeadbeef);
    expect(jhash(e.encode('Four score and seven years ago'), 0)).toBe(0x17770551);
    expect(jhash(e.encode('Four score and seven years ago'), 1)).toBe(0xcd628161);
  });

  it('lists in hash-table order (bucket by client address and port, seeded per node), not creation order', () => {
    const make = (seed: number) => {
      const t = new IpvsTable({ connHashSeed: seed });
      t.sync([vs('10.96.0.10:53', 'rr', [rs('10.244.0.2:53'), rs('10.244.1.3:53')])]);
      for (let i = 0; i < 40; i++) ipvsIn(t, tcp(`10.244.2.${i + 2}:${40000 + i}`, '10.96.0.10:53', 'S'), 0);
      return t;
    };
    const sources = (t: IpvsTable) =>
      renderIpvsadmConnections(t, 0)
        .split('\n')
        .slice(2, -1)
        .map((l) => l.split(/\s+/)[3]);
    const a = make(1);
    const created = a.conns.list().map((c) => `${c.caddr.text}:${c.cport}`);
    const listed = sources(a);
    expect([...listed].sort()).toEqual([...created].sort());
    expect(listed).not.toEqual(created);
    // Buckets ascend down the listing.
    const buckets = a.conns
      .listed(a.connHashKeys, a.connTabSize)
      .map((c) => connBucket(a.connHashKeys, c.protocol, c.caddr, c.cport, a.connTabSize));
    expect(buckets).toEqual([...buckets].sort((x, y) => x - y));
    // The same seed repeats; another node (seed) boots with other keys and another order.
    expect(sources(make(1))).toEqual(listed);
    expect(sources(make(2))).not.toEqual(listed);
  });
});

describe('ipvsadm-save -n', () => {
  const SAVE = [
    '-A -t 192.168.0.10:30080 -s mh -p 60 -M 255.255.255.0',
    '-a -t 192.168.0.10:30080 -r 10.244.1.5:8080 -m -w 1',
    '-A -t 10.96.0.1:443 -s rr -p 10800',
    '-a -t 10.96.0.1:443 -r 192.168.0.1:6443 -m -w 1',
    '-A -t 10.96.0.10:53 -s rr',
    '-a -t 10.96.0.10:53 -r 10.244.0.2:53 -m -w 1',
    '-a -t 10.96.0.10:53 -r 10.244.1.3:53 -m -w 1',
    '-A -t 10.96.0.20:80 -s sh -b sh-fallback,sh-port',
    '-a -t 10.96.0.20:80 -r 10.244.1.5:8080 -m -w 0',
    '-A -u 10.96.0.10:53 -s rr',
    '-a -u 10.96.0.10:53 -r 10.244.0.2:53 -m -w 1',
    '-a -u 10.96.0.10:53 -r 10.244.1.3:53 -m -w 1',
    '',
  ].join('\n');

  it('prints -A and -a lines in ipvsadm order', () => {
    expect(renderIpvsadmSave(cluster())).toBe(SAVE);
  });

  it('round-trips: parse(save(table)) programs the same table', () => {
    const t = new IpvsTable();
    t.sync(parseIpvsadmSave(SAVE));
    expect(renderIpvsadmSave(t)).toBe(SAVE);
    // The save lists real servers sorted, so reloading it adds them in ascending order and the
    // kernel list is descending, whatever order the original node added them in.
    expect(ipvsJson(t).services.map((s) => s.kernelOrder)).toEqual([
      ['10.244.1.5:8080'],
      ['192.168.0.1:6443'],
      ['10.244.1.3:53', '10.244.0.2:53'],
      ['10.244.1.5:8080'],
      ['10.244.1.3:53', '10.244.0.2:53'],
    ]);
  });

  it('reads ipvsadm -R input with long options, a bare -p and IPv6', () => {
    const specs = parseIpvsadmSave(
      '# saved\n--add-service --tcp-service [fd00::10]:80 --scheduler wlc --persistent\n-a -t [fd00::10]:80 -r [fd00:244::5]:8080 -g -w 3 -x 10\n',
    );
    expect(specs).toHaveLength(1);
    expect(specs[0]).toMatchObject({
      protocol: 'TCP',
      port: 80,
      scheduler: 'wlc',
      persistence: { timeoutSeconds: 300, netmaskBits: 128 },
    });
    expect(specs[0]!.destinations[0]).toMatchObject({
      port: 8080,
      weight: 3,
      forward: 'Route',
      upperThreshold: 10,
    });
  });

  it('names the line of bad input', () => {
    expect(() =>
      parseIpvsadmSave('-A -t 10.96.0.1:443 -s rr\n-a -t 10.96.0.2:443 -r 1.2.3.4:1 -m\n'),
    ).toThrow(/line 2: real server for 10.96.0.2:443, which no earlier -A line adds/);
    expect(() => parseIpvsadmSave('-A -t 10.96.0.1:443 -s fastest\n')).toThrow(
      /line 1: unknown scheduler "fastest"/,
    );
  });
});

describe('IPv6', () => {
  it('brackets addresses and prints the persistence netmask as a prefix length', () => {
    const t = new IpvsTable();
    t.addService(
      vs('fd00::10:80', 'wlc', [rs('fd00:244::5:8080', 2)], {
        persistence: { timeoutSeconds: 60, netmaskBits: 64 },
      }),
    );
    // ipvsadm.c: IPv6 names are not truncated; "persistent %u" then " mask %i" for a netmask != 128.
    expect(renderIpvsadmList(t).split('\n').slice(3, 5)).toEqual([
      'TCP  [fd00::10]:80 wlc persistent 60 mask 64',
      `  -> ${'[fd00:244::5]:8080'.padEnd(28)} Masq    2      0          0         `,
    ]);
    expect(renderIpvsadmSave(t)).toBe(
      '-A -t [fd00::10]:80 -s wlc -p 60 -M 64\n-a -t [fd00::10]:80 -r [fd00:244::5]:8080 -m -w 2\n',
    );
    expect(renderIpvsadmSave(new IpvsTable())).toBe('');
    const back = new IpvsTable();
    back.sync(parseIpvsadmSave(renderIpvsadmSave(t)));
    expect(renderIpvsadmSave(back)).toBe(renderIpvsadmSave(t));
  });
});
