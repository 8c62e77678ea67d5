/**
 * Paths through a Docker 20.10 host (docker0 with web -p 8080:80; kpnet with api -p
 * 127.0.0.1:9000:90/udp and db), each on a freshly built host, with the source the receiving
 * container sees or where it fails. Expected values from the fact sheet (datapath.md 5.2, 5.4) and
 * the moby source: docker-proxy takes the host's own 127.0.0.1 and containers reaching a host port
 * (each bridge's `DOCKER -i BR -j RETURN`), and connects from the bridge address; external clients
 * and host processes using a non-loopback address are DNATed and keep their source; with the proxy
 * off the hairpin MASQUERADE rules rewrite local and self sources to the bridge address; traffic
 * from one bridge to another meets DOCKER-ISOLATION-STAGE-2's DROP.
 */
import { describe, expect, it } from 'vitest';
import { buildDockerHost, type DockerSource, type DockerTrace, traceDocker } from '../../cni/docker/index.js';
import { parseIP } from '../../netmodel/addr.js';
import { SeededRng } from '../../netmodel/rng.js';
import { dockerHostYaml, planOf } from './helpers.js';

const HOST = { kind: 'host' } as const;
const web = { kind: 'container', name: 'web' } as const;
const db = { kind: 'container', name: 'db' } as const;
const outside = (ip: string): DockerSource => ({ kind: 'outside', ip: parseIP(ip) });

function run(
  proxy: boolean,
  from: DockerSource,
  dst: string,
  port: number,
  proto: 'tcp' | 'udp' = 'tcp',
): DockerTrace {
  const st = buildDockerHost(planOf(dockerHostYaml({ proxy })));
  return traceDocker(st, from, parseIP(dst), port, proto, { now: 0, rng: new SeededRng(1), trace: true });
}
/** "container web from 172.17.0.1 (docker-proxy)" and the like. */
function seen(t: DockerTrace): string {
  const a = t.arrived;
  const via = t.legs.some((l) => l.by === 'docker-proxy') ? ' (docker-proxy)' : '';
  if (a.kind === 'container') return `${a.container} from ${a.from.split(':')[0]}${via}`;
  if (a.kind === 'stopped') return `stopped in ${a.ns}: ${a.reason}`;
  return a.kind;
}
/** Every rule matched on the way, as iptables-save text's chain and target. */
function matched(t: DockerTrace): string[] {
  const out: string[] = [];
  for (const leg of t.legs)
    for (const s of leg.travel.steps)
      if (s.kind === 'stack')
        for (const st of s.walk.stages)
          if (st.kind === 'table')
            for (const e of st.trace) if (e.kind === 'rule') out.push(`${e.table} ${e.chain} ${e.num}`);
  return out;
}

const PATHS: [string, DockerSource, string, number, 'tcp' | 'udp', string, string][] = [
  // name, from, to, port, proto, proxy on, proxy off
  [
    'host to 127.0.0.1:8080',
    HOST,
    '127.0.0.1',
    8080,
    'tcp',
    'web from 172.17.0.1 (docker-proxy)',
    'web from 172.17.0.1',
  ],
  ['host to its own address', HOST, '192.0.2.10', 8080, 'tcp', 'web from 192.0.2.10', 'web from 172.17.0.1'],
  [
    'host to the docker0 address',
    HOST,
    '172.17.0.1',
    8080,
    'tcp',
    'web from 172.17.0.1',
    'web from 172.17.0.1',
  ],
  ['host to the container IP', HOST, '172.17.0.2', 80, 'tcp', 'web from 172.17.0.1', 'web from 172.17.0.1'],
  [
    'outside to the published port',
    outside('198.51.100.7'),
    '192.0.2.10',
    8080,
    'tcp',
    'web from 198.51.100.7',
    'web from 198.51.100.7',
  ],
  [
    'outside (LAN) to the container directly',
    outside('192.0.2.99'),
    '172.17.0.2',
    80,
    'tcp',
    'web from 192.0.2.99',
    'web from 192.0.2.99',
  ],
  [
    'container to its own published port (hairpin)',
    web,
    '192.0.2.10',
    8080,
    'tcp',
    'web from 172.17.0.1 (docker-proxy)',
    'web from 172.17.0.1',
  ],
  [
    'host to 127.0.0.1:9000/udp (kpnet)',
    HOST,
    '127.0.0.1',
    9000,
    'udp',
    'api from 172.18.0.1 (docker-proxy)',
    'api from 172.18.0.1',
  ],
  [
    'same bridge, container to container',
    db,
    '172.18.0.2',
    90,
    'udp',
    'api from 172.18.0.3',
    'api from 172.18.0.3',
  ],
];

describe('kpath trace through a Docker 20.10 host', () => {
  for (const [name, from, dst, port, proto, on, off] of PATHS) {
    it(`${name}: proxy on ${on}; proxy off ${off}`, () => {
      expect(seen(run(true, from, dst, port, proto))).toBe(on);
      expect(seen(run(false, from, dst, port, proto))).toBe(off);
    });
  }

  it('across bridges: DOCKER-ISOLATION-STAGE-2 drops it, in both proxy modes', () => {
    for (const proxy of [true, false]) {
      const t = run(proxy, web, '172.18.0.3', 6379);
      expect(seen(t)).toMatch(/^stopped in host: dropped/);
      const rules = matched(t);
      expect(rules).toContain('filter DOCKER-ISOLATION-STAGE-1 2'); // -i docker0 ! -o docker0 -j STAGE-2
      expect(rules).toContain('filter DOCKER-ISOLATION-STAGE-2 1'); // -o br-... -j DROP
    }
  });

  it('another bridge to a published host port: the proxy carries it; with the proxy off isolation drops the DNATed packet', () => {
    expect(seen(run(true, db, '192.0.2.10', 8080))).toBe('web from 172.17.0.1 (docker-proxy)');
    const off = run(false, db, '192.0.2.10', 8080);
    expect(seen(off)).toMatch(/^stopped in host: dropped/);
    expect(matched(off)).toContain('filter DOCKER-ISOLATION-STAGE-2 2'); // -o docker0 -j DROP
  });

  it('device hops: container eth0 -> veth -> bridge -> veth -> eth0, and the hairpin port with the proxy off', () => {
    const t = run(false, web, '192.0.2.10', 8080);
    const wires = t.legs[0]!.travel.steps.filter((s) => s.kind === 'wire').map(
      (s) => `${s.ns.split('/').pop()}:${s.dev}:${s.dir}`,
    );
    expect(wires[0]).toBe('web:eth0:out');
    expect(wires.at(-1)).toBe('web:eth0:in');
    expect(wires.filter((w) => w.startsWith('host:veth'))).toHaveLength(2); // in and back out of the same port
  });

  it('a container to the outside world is MASQUERADEd to the host address and leaves on eth0', () => {
    const t = run(true, web, '8.8.8.8', 53, 'udp');
    expect(t.arrived).toEqual({ kind: 'outside', nextHop: '8.8.8.8' });
    const end = t.legs[0]!.travel.end;
    expect(end.kind === 'outside' && end.packet.src.text).toBe('192.0.2.10');
  });
});
