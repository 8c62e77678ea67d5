/**
 * The netfilter pieces ipvs mode needs: `ipset restore` text into the emulated store and `ipset save`
 * / `ipset list` out of it (formats checked against ipset 7.17, see netns.test.ts), and the xt_ipvs
 * match (`-m ipvs`, used by KUBE-IPVS-OUT-FILTER): parsed, printed as iptables-save prints it
 * (libxt_ipvs.c ipvs_mt_dump: --vproto as a number before --vaddr ADDR/LEN), and evaluated as
 * xt_ipvs.c's ipvs_mt does.
 */
import { describe, expect, it } from 'vitest';
import { parseIP } from '../../netmodel/addr.js';
import { isKpathError } from '../../netmodel/errors.js';
import { KernelNode } from '../../netmodel/kernel/index.js';
import {
  applyIpsetRestore,
  type EvalContext,
  evaluate,
  IpSetStore,
  renderIpsetList,
  renderIpsetSave,
} from '../../netmodel/netfilter/index.js';
import { ctx, rules, tcp } from '../netfilter/builders.js';

describe('ipset restore / save / list over the emulated store', () => {
  const input = [
    'create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536 -exist',
    'create KUBE-NODE-PORT-TCP bitmap:port range 0-65535 -exist',
    'create KUBE-LOAD-BALANCER-SOURCE-CIDR hash:ip,port,net family inet hashsize 1024 maxelem 65536 -exist',
    'add KUBE-CLUSTER-IP 10.96.0.10,udp:53 -exist',
    'add KUBE-CLUSTER-IP 10.96.0.1,tcp:443 -exist',
    'add KUBE-NODE-PORT-TCP 30080 -exist',
    'add KUBE-NODE-PORT-TCP 30001 -exist',
    'add KUBE-LOAD-BALANCER-SOURCE-CIDR 10.250.0.1,tcp:80,1.2.3.4/32 -exist',
    'add KUBE-LOAD-BALANCER-SOURCE-CIDR 10.250.0.1,tcp:80,192.168.0.0/16 -exist',
    '',
  ].join('\n');

  it('save prints creates with the kernel defaults, bitmap ports ascending, /32 networks bare', () => {
    const s = new IpSetStore();
    applyIpsetRestore(s, input);
    expect(renderIpsetSave(s)).toBe(
      [
        'create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x00000000',
        'add KUBE-CLUSTER-IP 10.96.0.10,udp:53',
        'add KUBE-CLUSTER-IP 10.96.0.1,tcp:443',
        'create KUBE-NODE-PORT-TCP bitmap:port range 0-65535',
        'add KUBE-NODE-PORT-TCP 30001',
        'add KUBE-NODE-PORT-TCP 30080',
        'create KUBE-LOAD-BALANCER-SOURCE-CIDR hash:ip,port,net family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x00000000',
        'add KUBE-LOAD-BALANCER-SOURCE-CIDR 10.250.0.1,tcp:80,1.2.3.4',
        'add KUBE-LOAD-BALANCER-SOURCE-CIDR 10.250.0.1,tcp:80,192.168.0.0/16',
        '',
      ].join('\n'),
    );
    // The save output loads back to the same save output.
    const again = new IpSetStore();
    applyIpsetRestore(again, renderIpsetSave(s));
    expect(renderIpsetSave(again)).toBe(renderIpsetSave(s));
  });

  it('list: header fields, sizes measured on Linux 6.x (hash: 216 + 48 per member, bitmap 0-65535: 8264)', () => {
    const s = new IpSetStore();
    applyIpsetRestore(s, input);
    const text = renderIpsetList(s, {
      references: new Map([['KUBE-CLUSTER-IP', 3]]),
      names: ['KUBE-CLUSTER-IP', 'KUBE-NODE-PORT-TCP'],
    });
    expect(text).toBe(
      [
        'Name: KUBE-CLUSTER-IP',
        'Type: hash:ip,port',
        'Revision: 7',
        'Header: family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x00000000',
        'Size in memory: 312',
        'References: 3',
        'Number of entries: 2',
        'Members:',
        '10.96.0.10,udp:53',
        '10.96.0.1,tcp:443',
        '',
        'Name: KUBE-NODE-PORT-TCP',
        'Type: bitmap:port',
        'Revision: 3',
        'Header: range 0-65535',
        'Size in memory: 8264',
        'References: 0',
        'Number of entries: 2',
        'Members:',
        '30001',
        '30080',
        '',
      ].join('\n'),
    );
  });

  it('errors name the line and what is wrong, as ipset restore refuses', () => {
    const fails = (text: string, msg: RegExp) => {
      try {
        applyIpsetRestore(new IpSetStore(), text);
        expect.unreachable();
      } catch (e) {
        expect(isKpathError(e)).toBe(true);
        expect((e as Error).message).toMatch(msg);
      }
    };
    fails('add NOPE 1.2.3.4', /line 1: set NOPE does not exist/);
    fails('create A hash:ip\nadd A 1.2.3.4\nadd A 1.2.3.4', /line 3: element 1.2.3.4 is already added/);
    fails('create A hash:ip\ncreate A hash:ip', /line 2: set A already exists/);
    fails('create A hash:ip\ncreate A hash:ip,port -exist', /different create parameters/);
    fails('create A bitmap:port', /needs "range FROM-TO"/);
    fails('create A bitmap:port range 30000-32767\nadd A 80', /outside the set's range/);
    fails('create A hash:ip,port\nadd A 1.2.3.4,bogus:80', /unknown protocol "bogus"/);
    fails('create A hash:ip family inet6\nadd A 1.2.3.4', /not an IPv6 address/);
    fails('create A list:set', /unsupported set type/);
  });

  it('-exist tolerates an identical create and a present member; del and flush remove', () => {
    const s = new IpSetStore();
    applyIpsetRestore(
      s,
      'create A hash:ip\nadd A 10.0.0.1\ncreate A hash:ip -exist\nadd A 10.0.0.1 -exist\nadd A 10.0.0.2',
    );
    applyIpsetRestore(s, 'del A 10.0.0.1');
    expect(s.members('A').map((m) => m.ip!.text)).toEqual(['10.0.0.2']);
    applyIpsetRestore(s, 'flush A');
    expect(s.members('A')).toEqual([]);
  });
});

describe('-m ipvs (xt_ipvs)', () => {
  const rule = '-s 10.250.0.1 -m ipvs --vaddr 10.250.0.1 --vproto tcp --vport 80 -j DROP';

  it('iptables-save prints --vproto as a number before --vaddr with its length', () => {
    const k = new KernelNode({ name: 'n' });
    k.restore(
      `*filter\n:KUBE-IPVS-OUT-FILTER - [0:0]\n-A KUBE-IPVS-OUT-FILTER ${rule}\n-A KUBE-IPVS-OUT-FILTER -m ipvs ! --ipvs -j ACCEPT\nCOMMIT\n`,
    );
    const saved = k.save();
    expect(saved).toContain(
      '-A KUBE-IPVS-OUT-FILTER -s 10.250.0.1/32 -m ipvs --vproto 6 --vaddr 10.250.0.1/32 --vport 80 -j DROP\n',
    );
    expect(saved).toContain('-A KUBE-IPVS-OUT-FILTER -m ipvs ! --ipvs -j ACCEPT\n');
  });

  it('matches only packets IPVS handled for that virtual server', () => {
    const rs = rules('filter', [], [':OUTPUT ACCEPT [0:0]', `-A OUTPUT ${rule}`]);
    const p = tcp('10.250.0.1:40000', '10.250.0.1:80');
    const verdict = (c: EvalContext) => evaluate(rs, 'filter', 'OUTPUT', p, c).verdict.kind;
    const view = {
      vaddr: parseIP('10.250.0.1'),
      vport: 80,
      vproto: 6,
      original: true,
      method: 'MASQ' as const,
    };
    expect(verdict(ctx())).toBe('ACCEPT');
    expect(verdict(ctx({ ipvs: view }))).toBe('DROP');
    expect(verdict(ctx({ ipvs: { ...view, vport: 443 } }))).toBe('ACCEPT');
    expect(verdict(ctx({ ipvs: { ...view, vproto: 17 } }))).toBe('ACCEPT');
  });

  it('refuses malformed options with the reason', () => {
    const k = new KernelNode({ name: 'n' });
    expect(() => k.restore('*filter\n-A OUTPUT -m ipvs -j DROP\nCOMMIT\n')).toThrow(/at least one option/);
    expect(() => k.restore('*filter\n-A OUTPUT -m ipvs --vdir SIDEWAYS -j DROP\nCOMMIT\n')).toThrow(
      /ORIGINAL or REPLY/,
    );
  });
});
