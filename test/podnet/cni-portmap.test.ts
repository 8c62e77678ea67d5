/**
 * `kpath cni` running a conflist as containerd does (the kube-flannel manifest's cbr0: the bridge
 * plugin, then portmap with the portMappings capability): bridge ADD with ipMasq, portmap ADD chained
 * on its result, CHECK, DEL in reverse order; the nat table each leaves, as `kpath cni
 * --iptables-save` prints it. The rules' text is what real iptables-save shows for the same calls
 * (test/podnet/portmap-iptables.test.ts checks that in a namespace); the expectations here follow
 * portmap_iptables_test.go and ipmasq_iptables_linux.go.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run as cniRun } from '../../cli/commands/cni.js';
import { bufferIO } from '../../cli/io.js';
import { ipMasqChain, portmapChain } from '../../cni/portmap/index.js';
import { type CniState, emptyCniState, invokeCni, natSave } from '../../cni/spec/index.js';

const bridge = JSON.stringify({
  cniVersion: '1.1.0',
  name: 'cbr0',
  type: 'bridge',
  bridge: 'cni0',
  isDefaultGateway: true,
  ipMasq: true,
  ipam: { type: 'host-local', ranges: [[{ subnet: '10.244.1.0/24' }]] },
});

const portMappings = [
  { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
  { hostPort: 5353, containerPort: 53, protocol: 'udp' },
];

const portmap = (prevResult: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    cniVersion: '1.1.0',
    name: 'cbr0',
    type: 'portmap',
    snat: true,
    runtimeConfig: { portMappings },
    ...(prevResult ? { prevResult } : {}),
    ...extra,
  });

function call(state: CniState, command: string, stdin: string, cid = 'c1') {
  return invokeCni({
    env: { CNI_COMMAND: command, CNI_CONTAINERID: cid, CNI_NETNS: `/run/netns/${cid}`, CNI_IFNAME: 'eth0' },
    stdin,
    state,
  });
}

const rules = (s: CniState) =>
  natSave(s.nat)
    .split('\n')
    .filter((l) => l.startsWith('-A'));

describe('kpath cni: bridge with ipMasq, then portmap (the cbr0 conflist)', () => {
  it('ADD, ADD chained, CHECK, DEL in reverse: the rules each plugin writes and removes', () => {
    const a = call(emptyCniState(), 'ADD', bridge);
    expect(a.exit, a.stdout).toBe(0);
    const result = JSON.parse(a.stdout) as { ips: { address: string }[] };
    expect(result.ips[0]!.address).toBe('10.244.1.2/24');
    const masq = ipMasqChain('cbr0', 'c1');
    expect(rules(a.state)).toEqual([
      `-A POSTROUTING -s 10.244.1.2/32 -m comment --comment "name: \\"cbr0\\" id: \\"c1\\"" -j ${masq}`,
      `-A ${masq} -d 10.244.1.0/24 -m comment --comment "name: \\"cbr0\\" id: \\"c1\\"" -j ACCEPT`,
      `-A ${masq} ! -d 224.0.0.0/4 -m comment --comment "name: \\"cbr0\\" id: \\"c1\\"" -j MASQUERADE`,
    ]);

    const p = call(a.state, 'ADD', portmap(result));
    expect(p.exit, p.stdout).toBe(0);
    // A chained plugin passes the previous result on.
    expect(JSON.parse(p.stdout)).toEqual(result);
    const dn = portmapChain('cbr0', 'c1');
    expect(rules(p.state)).toEqual([
      '-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT',
      '-A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT',
      '-A POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ',
      `-A POSTROUTING -s 10.244.1.2/32 -m comment --comment "name: \\"cbr0\\" id: \\"c1\\"" -j ${masq}`,
      `-A ${masq} -d 10.244.1.0/24 -m comment --comment "name: \\"cbr0\\" id: \\"c1\\"" -j ACCEPT`,
      `-A ${masq} ! -d 224.0.0.0/4 -m comment --comment "name: \\"cbr0\\" id: \\"c1\\"" -j MASQUERADE`,
      `-A ${dn} -s 10.244.1.0/24 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK`,
      `-A ${dn} -s 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK`,
      `-A ${dn} -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.244.1.2:80`,
      `-A ${dn} -s 10.244.1.0/24 -p udp -m udp --dport 5353 -j CNI-HOSTPORT-SETMARK`,
      `-A ${dn} -s 127.0.0.1/32 -p udp -m udp --dport 5353 -j CNI-HOSTPORT-SETMARK`,
      `-A ${dn} -p udp -m udp --dport 5353 -j DNAT --to-destination 10.244.1.2:53`,
      `-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"cbr0\\" id: \\"c1\\"" -m multiport --dports 8080 -j ${dn}`,
      `-A CNI-HOSTPORT-DNAT -p udp -m comment --comment "dnat name: \\"cbr0\\" id: \\"c1\\"" -m multiport --dports 5353 -j ${dn}`,
      '-A CNI-HOSTPORT-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE',
      '-A CNI-HOSTPORT-SETMARK -m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark 0x2000/0x2000',
    ]);

    expect(call(p.state, 'CHECK', portmap(result)).exit).toBe(0);
    // CHECK finds a rule gone (someone flushed the container's chain).
    const flushed = { ...p.state, nat: p.state.nat!.replace(/^-A CNI-DN-.*\n/gm, '') };
    const bad = call(flushed, 'CHECK', portmap(result));
    expect(bad.exit).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({
      code: 999,
      msg: expect.stringMatching(/^could not check ipv4 dnat/),
    });

    // DEL in reverse order: portmap, then bridge.
    const d1 = call(p.state, 'DEL', portmap(result));
    expect(d1.exit).toBe(0);
    expect(natSave(d1.state.nat)).not.toContain(dn);
    expect(natSave(d1.state.nat)).toContain(':CNI-HOSTPORT-DNAT - [0:0]');
    const d2 = call(d1.state, 'DEL', bridge);
    expect(d2.exit).toBe(0);
    expect(natSave(d2.state.nat)).not.toContain(masq);
    // DEL again succeeds (idempotent).
    expect(call(d2.state, 'DEL', portmap(result)).exit).toBe(0);
  });

  it('errors as the plugin reports them (skel: code 999)', () => {
    const noPrev = call(emptyCniState(), 'ADD', portmap(undefined));
    expect(JSON.parse(noPrev.stdout)).toMatchObject({ code: 999, msg: 'must be called as chained plugin' });
    const bit = call(emptyCniState(), 'ADD', portmap({ ips: [] }, { markMasqBit: 40 }));
    expect(JSON.parse(bit.stdout)).toMatchObject({
      code: 999,
      msg: 'failed to parse config: MasqMarkBit must be between 0 and 31',
    });
    const port = call(
      emptyCniState(),
      'ADD',
      portmap(
        { ips: [] },
        { runtimeConfig: { portMappings: [{ hostPort: 0, containerPort: 80, protocol: 'tcp' }] } },
      ),
    );
    expect(JSON.parse(port.stdout)).toMatchObject({
      msg: 'failed to parse config: Invalid host port number: 0',
    });
    // A custom mark bit.
    const a = call(emptyCniState(), 'ADD', bridge);
    const m = call(a.state, 'ADD', portmap(JSON.parse(a.stdout), { markMasqBit: 14 }));
    expect(natSave(m.state.nat)).toContain('-A CNI-HOSTPORT-MASQ -m mark --mark 0x4000/0x4000 -j MASQUERADE');
  });
});

describe('kpath cni --iptables-save', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kpath-cni-pm-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it('prints the state`s nat table after ADDs run through the command', async () => {
    const state = join(dir, 'state.json');
    const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c9', CNI_NETNS: '/run/netns/c9', CNI_IFNAME: 'eth0' };
    const io1 = bufferIO(dir);
    expect(await cniRun({ state }, io1, { env, stdin: () => bridge })).toBe(0);
    const io2 = bufferIO(dir);
    expect(await cniRun({ state }, io2, { env, stdin: () => portmap(JSON.parse(io1.stdout())) })).toBe(0);
    const io3 = bufferIO(dir);
    expect(await cniRun({ state, iptablesSave: true }, io3, { env: {}, stdin: () => '' })).toBe(0);
    const out = io3.stdout();
    expect(out.split('\n')[0]).toBe('*nat');
    expect(out).toContain(
      `-A ${portmapChain('cbr0', 'c9')} -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.244.1.2:80`,
    );
    expect(out.trimEnd().endsWith('COMMIT')).toBe(true);
  });
});
