/**
 * The ipvs-mode payloads loaded into the real kernel: the ipsets with `ipset restore`, then kube-proxy's
 * chain/jump setup and the rules with `iptables-restore --noflush`, inside a network namespace this test
 * creates and deletes (IPVS itself and the dummy device do not work in a namespace here; ipset and
 * iptables do). What `ipset save`, `ipset list` and `iptables-save` print there must equal what kpath's
 * emulated node prints after loading the same render.
 *
 * Two things the kernel draws at random are normalised on both sides: each hash set's initval, and the
 * order of hash-set members (bucket order, which follows from initval). `Size in memory` is compared
 * exactly where no two members can share a bucket (one member per set).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KernelNode } from '../../netmodel/kernel/index.js';
import { ipsetReferences, renderIpsetList, renderIpsetSave } from '../../netmodel/netfilter/index.js';
import { applyIpvsNetfilter, renderIpvsNode } from '../../proxy/ipvs/index.js';
import {
  allKinds,
  ipvsProxy,
  kpCluster,
  namespaces,
  p80,
  service,
  slice,
  snap,
  TEST_NODE,
  testNode,
} from './fixtures.js';

const NS = `kp-ipvsp-${process.pid}`;
const bins = ['/usr/sbin/iptables-restore', '/usr/sbin/iptables-save', '/usr/sbin/ip', '/usr/sbin/ipset'];
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const missing = bins.filter((b) => !existsSync(b));
const skipReason = !isRoot
  ? 'needs root to create a network namespace'
  : missing.length
    ? `missing ${missing.join(', ')} (apt-get install -y iptables ipset iproute2)`
    : '';

let nsReady = false;
function inNs(args: string[], input?: string): string {
  return execFileSync('ip', ['netns', 'exec', NS, ...args], {
    input,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Drop iptables-save's timestamp comments. */
const noComments = (t: string) =>
  t
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .join('\n');

/** initval to zero, and the member lines of each set sorted (hash members come in bucket order). */
function canonSave(t: string): string {
  const out: string[] = [];
  let members: string[] = [];
  const flush = () => {
    out.push(...members.sort());
    members = [];
  };
  for (const l of t.replace(/initval 0x[0-9a-f]{8}/g, 'initval 0x00000000').split('\n')) {
    if (l.startsWith('add ')) members.push(l);
    else {
      flush();
      out.push(l);
    }
  }
  flush();
  return out.join('\n');
}

function canonList(t: string, keepSize: boolean): string {
  return t
    .replace(/initval 0x[0-9a-f]{8}/g, 'initval 0x00000000')
    .split('\n\n')
    .map((block) => {
      const [head, members = ''] = block.split('Members:\n');
      const h = keepSize ? head! : head!.replace(/Size in memory: \d+/, 'Size in memory: N');
      return `${h}Members:\n${members.split('\n').filter(Boolean).sort().join('\n')}`;
    })
    .join('\n\n');
}

function resetNs(): void {
  inNs(['iptables', '-t', 'nat', '-F']);
  inNs(['iptables', '-t', 'nat', '-X']);
  inNs(['iptables', '-t', 'filter', '-F']);
  inNs(['iptables', '-t', 'filter', '-X']);
  inNs(['ipset', 'destroy']);
}

describe.skipIf(skipReason !== '')(
  `ipvs-mode ipsets and rules in a network namespace${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    beforeAll(() => {
      execFileSync('ip', ['netns', 'add', NS]);
      nsReady = true;
    });
    afterAll(() => {
      if (nsReady) execFileSync('ip', ['netns', 'delete', NS]);
    });

    it('every kind of service port: ipset save, ipset list and iptables-save equal the emulated node', () => {
      resetNs();
      const r = renderIpvsNode(snap(...allKinds()), TEST_NODE);
      inNs(['ipset', 'restore'], r.ipsetRestore);
      inNs(['iptables-restore', '--noflush'], r.setupRestore);
      inNs(['iptables-restore', '--noflush'], r.rules.restore);
      const k = new KernelNode({ name: TEST_NODE });
      applyIpvsNetfilter(k, r);

      expect(noComments(inNs(['iptables-save']))).toBe(noComments(k.save()));
      expect(canonSave(inNs(['ipset', 'save']))).toBe(canonSave(renderIpsetSave(k.nf.sets)));
      const refs = ipsetReferences(k.save());
      expect(canonList(inNs(['ipset', 'list']), false)).toBe(
        canonList(renderIpsetList(k.nf.sets, { references: refs }), false),
      );
      // A second sync of the same state is accepted as kube-proxy repeats it (-exist, --noflush).
      inNs(['ipset', 'restore'], r.ipsetRestore);
      inNs(['iptables-restore', '--noflush'], r.rules.restore);
      expect(noComments(inNs(['iptables-save']))).toBe(noComments(k.save()));
    });

    it('one member per set: ipset list byte for byte, Size in memory included (initval aside)', () => {
      resetNs();
      const docs = [
        kpCluster(),
        ipvsProxy(),
        testNode(),
        ...namespaces('ns1'),
        service('ns1', 'svc1', {
          type: 'NodePort',
          clusterIP: '172.30.0.41',
          ports: [{ ...p80[0], nodePort: 3001 }],
        }),
        slice('ns1', 'svc1', p80, [{ ip: '10.180.0.1', node: TEST_NODE }]),
      ];
      const r = renderIpvsNode(snap(...docs), TEST_NODE);
      inNs(['ipset', 'restore'], r.ipsetRestore);
      inNs(['iptables-restore', '--noflush'], r.setupRestore);
      inNs(['iptables-restore', '--noflush'], r.rules.restore);
      const k = new KernelNode({ name: TEST_NODE });
      applyIpvsNetfilter(k, r);
      const ours = renderIpsetList(k.nf.sets, { references: ipsetReferences(k.save()) });
      expect(inNs(['ipset', 'list']).replace(/initval 0x[0-9a-f]{8}/g, 'initval 0x00000000')).toBe(ours);
      expect(noComments(inNs(['iptables-save']))).toBe(noComments(k.save()));
    });

    it('IPv6 sets are named KUBE-6-... and load into ip6tables', () => {
      resetNs();
      inNs(['ip6tables', '-t', 'nat', '-F']);
      inNs(['ip6tables', '-t', 'nat', '-X']);
      inNs(['ip6tables', '-t', 'filter', '-F']);
      inNs(['ip6tables', '-t', 'filter', '-X']);
      const docs = [
        kpCluster({ podCIDR: 'fd00:10::/64', serviceCIDR: 'fd00:30::/112', nodeCIDR: 'fd00:192::/64' }),
        ipvsProxy({ clusterCIDR: 'fd00:10::/64' }),
        testNode(TEST_NODE, 'fd00:192::2'),
        ...namespaces('ns1'),
        service('ns1', 'svc1', {
          type: 'NodePort',
          ipFamilies: ['IPv6'],
          clusterIP: 'fd00:30::41',
          ports: [{ ...p80[0], nodePort: 3001 }],
        }),
        slice('ns1', 'svc1', p80, [{ ip: 'fd00:10::1', node: TEST_NODE }], 1, 'IPv6'),
      ];
      const r = renderIpvsNode(snap(...docs), TEST_NODE, { family: 6 });
      expect(r.ipsetRestore).toContain(
        'create KUBE-6-LOAD-BALANCER-SOURCE-CID hash:ip,port,net family inet6',
      );
      inNs(['ipset', 'restore'], r.ipsetRestore);
      inNs(['ip6tables-restore', '--noflush'], r.setupRestore);
      inNs(['ip6tables-restore', '--noflush'], r.rules.restore);
      const k = new KernelNode({ name: TEST_NODE });
      applyIpvsNetfilter(k, r);
      expect(noComments(inNs(['ip6tables-save']))).toBe(noComments(k.save({ family: 6 })));
      expect(canonSave(inNs(['ipset', 'save']))).toBe(canonSave(renderIpsetSave(k.nf.sets)));
    });
  },
);
