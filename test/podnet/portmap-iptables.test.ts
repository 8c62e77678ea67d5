/**
 * The portmap plugin's and the bridge plugin's ipMasq iptables rules (cni/portmap), checked twice:
 * chain names against the upstream unit tests' vectors, and the whole nat table against the real
 * iptables: the same operations run as go-iptables runs them (`-S`/`-N`, `-C` then `-A` or `-I 1`,
 * `-D`, `-F`/`-X`) in a network namespace, and `iptables-save -t nat` there must equal what kpath's
 * emulated iptables saves after applying them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyIptOps,
  cniChainName,
  type IptOp,
  ipMasqAdd,
  ipMasqDel,
  portmapAdd,
  portmapChain,
  portmapDel,
} from '../../cni/portmap/index.js';
import { KernelNode } from '../../netmodel/kernel/index.js';
import { cleanupStaleNamespaces, exec, Namespaces, netnsUnavailable } from '../helpers/netns.js';

describe('CNI chain names (pkg/utils, plugins/meta/portmap unit tests)', () => {
  it('FormatChainName: CNI- + sha512(name + id), 28 characters', () => {
    expect(cniChainName('test', '1234')).toBe('CNI-2bbe0c48b91a7d1b8a6753a8');
    expect(cniChainName('testalongnamethatdoesnotmakesense', '1234')).toBe('CNI-374f33fe84ab0ed84dcdebe3');
  });
  it('the portmap DNAT chain: CNI-DN- + the same hash', () => {
    const id =
      'icee6giejonei6sohng6ahngee7laquohquee9shiGo7fohferakah3Feiyoolu2pei7ciPhoh7shaoX6vai3vuf0ahfaeng8yohb9ceu0daez5hashee8ooYai5wa3y';
    expect(portmapChain('testNetName', id)).toBe('CNI-DN-bfd599665540dd91d5d28');
  });
});

const PREFIX = 'kp-pm-';
const reason = await netnsUnavailable(PREFIX, 'loading iptables rules in a network namespace', [
  ['ip', 'iproute2'],
  ['iptables', 'iptables'],
  ['iptables-save', 'iptables'],
]);

const c1 = {
  network: 'cbr0',
  containerId: 'c1',
  containerNet: '10.244.1.2/24',
  mappings: [
    { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
    { hostPort: 5353, containerPort: 53, protocol: 'udp' },
    { hostPort: 8443, containerPort: 443, protocol: 'tcp', hostIP: '10.0.0.11' },
  ],
};
const c2 = {
  network: 'cbr0',
  containerId: 'c2',
  containerNet: '10.244.1.3/24',
  mappings: [{ hostPort: 9090, containerPort: 90, protocol: 'tcp' }],
};

const ADD: IptOp[] = [
  ...ipMasqAdd('cbr0', 'c1', ['10.244.1.2/24']),
  ...portmapAdd(c1),
  ...ipMasqAdd('cbr0', 'c2', ['10.244.1.3/24']),
  ...portmapAdd(c2),
];
const DEL: IptOp[] = [...portmapDel(c2), ...ipMasqDel('cbr0', 'c2', ['10.244.1.3/24'])];

/** The rules of iptables-save output, without comments, counters or the header/commit lines. */
function rules(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('-A ') || l.startsWith(':'))
    .map((l) => l.replace(/ \[\d+:\d+\]$/, ''));
}

describe.skipIf(reason !== undefined)(
  `portmap and ipMasq rules against real iptables${reason ? ` (skipped: ${reason})` : ''}`,
  () => {
    const spaces = new Namespaces();
    const ns = `${PREFIX}${process.pid}-a`;
    const ipt = (args: string[]) => exec('ip', ['netns', 'exec', ns, 'iptables', '-w', ...args]);
    /** One operation as go-iptables makes it. */
    const real = async (o: IptOp) => {
      const t = ['-t', o.table];
      switch (o.op) {
        case 'ensure-chain':
          if ((await ipt([...t, '-S', o.chain])).code !== 0) await ipt([...t, '-N', o.chain]);
          return;
        case 'add-unique':
          if ((await ipt([...t, '-C', o.chain, ...o.rule])).code !== 0)
            await ipt(o.prepend ? [...t, '-I', o.chain, '1', ...o.rule] : [...t, '-A', o.chain, ...o.rule]);
          return;
        case 'delete':
          await ipt([...t, '-D', o.chain, ...o.rule]);
          return;
        case 'delete-chain':
          if ((await ipt([...t, '-S', o.chain])).code === 0) {
            await ipt([...t, '-F', o.chain]);
            await ipt([...t, '-X', o.chain]);
          }
      }
    };
    const save = async () =>
      rules((await exec('ip', ['netns', 'exec', ns, 'iptables-save', '-t', 'nat'])).stdout);
    const k = new KernelNode({ name: 'node' });
    const emulated = () => rules(k.save({ tables: ['nat'] }));

    beforeAll(async () => {
      await cleanupStaleNamespaces(PREFIX);
      await spaces.add(ns);
    });
    afterAll(() => spaces.removeAll());

    it('two containers ADDed (ipMasq, then portmap): the same nat table, rule for rule', async () => {
      for (const o of ADD) await real(o);
      applyIptOps(k, ADD);
      const r = await save();
      expect(emulated().sort()).toEqual([...r].sort());
      // Order within each chain too.
      const chainOf = (l: string) => l.split(' ')[1];
      for (const chain of new Set(r.filter((l) => l.startsWith('-A')).map(chainOf)))
        expect(emulated().filter((l) => chainOf(l) === chain && l.startsWith('-A'))).toEqual(
          r.filter((l) => chainOf(l) === chain && l.startsWith('-A')),
        );
      // What the kernel stores: the hairpin source as the container's subnet, the portmap jump first.
      expect(r).toContain(
        `-A ${portmapChain('cbr0', 'c1')} -s 10.244.1.0/24 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK`,
      );
      expect(r.find((l) => l.startsWith('-A POSTROUTING'))).toMatch(/-j CNI-HOSTPORT-MASQ$/);
    });

    it('ADD again changes nothing (the rules are only added when missing)', async () => {
      const before = await save();
      for (const o of ADD) await real(o);
      applyIptOps(k, ADD);
      expect(await save()).toEqual(before);
      expect(emulated().sort()).toEqual([...before].sort());
    });

    it('DEL of the second container: its chains and jumps go, the shared chains stay', async () => {
      for (const o of DEL) await real(o);
      applyIptOps(k, DEL);
      const r = await save();
      expect(emulated().sort()).toEqual([...r].sort());
      expect(r.join('\n')).not.toContain(portmapChain('cbr0', 'c2'));
      expect(r).toContain(':CNI-HOSTPORT-DNAT -');
    });
  },
);
