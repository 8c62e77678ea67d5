/**
 * `kpath cni` as a CNI 1.1.0 plugin (containernetworking/cni SPEC.md; the bridge plugin and
 * host-local IPAM of containernetworking/plugins): commands, result shape, error codes, and
 * host-local's allocation order (gateway skipped, round robin from the last reserved address).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run as cniRun } from '../../cli/commands/cni.js';
import { bufferIO } from '../../cli/io.js';
import { type CniState, emptyCniState, invokeCni } from '../../cni/spec/index.js';

const conf = (extra: Record<string, unknown> = {}, ipam: Record<string, unknown> = {}) =>
  JSON.stringify({
    cniVersion: '1.1.0',
    name: 'cbr0',
    type: 'bridge',
    bridge: 'cni0',
    isDefaultGateway: true,
    ipam: { type: 'host-local', ranges: [[{ subnet: '10.244.1.0/24' }]], ...ipam },
    ...extra,
  });

function call(
  state: CniState,
  command: string,
  stdin: string,
  cid = 'c1',
  extraEnv: Record<string, string> = {},
) {
  return invokeCni({
    env: {
      CNI_COMMAND: command,
      CNI_CONTAINERID: cid,
      CNI_NETNS: `/run/netns/${cid}`,
      CNI_IFNAME: 'eth0',
      ...extraEnv,
    },
    stdin,
    state,
  });
}

describe('kpath cni (bridge + host-local)', () => {
  it('VERSION lists every spec version; STATUS is ready', () => {
    const v = invokeCni({
      env: { CNI_COMMAND: 'VERSION' },
      stdin: '{"cniVersion":"1.1.0"}',
      state: emptyCniState(),
    });
    expect(JSON.parse(v.stdout)).toEqual({
      cniVersion: '1.1.0',
      supportedVersions: ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'],
    });
    expect(invokeCni({ env: { CNI_COMMAND: 'STATUS' }, stdin: '', state: emptyCniState() })).toMatchObject({
      exit: 0,
      stdout: '',
    });
  });

  it('ADD: .2 first (the gateway .1 is skipped), interfaces [bridge, host veth, container], the default route via .1', () => {
    const r = call(emptyCniState(), 'ADD', conf());
    expect(r.exit).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.cniVersion).toBe('1.1.0');
    expect(res.interfaces.map((i: { name: string }) => i.name)).toEqual([
      'cni0',
      expect.stringMatching(/^veth[0-9a-f]{8}$/),
      'eth0',
    ]);
    expect(res.interfaces[2].sandbox).toBe('/run/netns/c1');
    expect(res.ips).toEqual([{ address: '10.244.1.2/24', gateway: '10.244.1.1', interface: 2 }]);
    expect(res.routes).toEqual([{ dst: '0.0.0.0/0', gw: '10.244.1.1' }]);
  });

  it('allocations go round robin from the last reserved address; DEL releases and is idempotent', () => {
    let s = emptyCniState();
    const ip = (r: ReturnType<typeof call>) => JSON.parse(r.stdout).ips[0].address;
    let r = call(s, 'ADD', conf(), 'a');
    s = r.state;
    expect(ip(r)).toBe('10.244.1.2/24');
    r = call(s, 'ADD', conf(), 'b');
    s = r.state;
    expect(ip(r)).toBe('10.244.1.3/24');
    r = call(s, 'DEL', conf(), 'a');
    expect(r).toMatchObject({ exit: 0, stdout: '' });
    s = r.state;
    expect(call(s, 'DEL', conf(), 'a').exit).toBe(0);
    r = call(s, 'ADD', conf(), 'c');
    expect(ip(r)).toBe('10.244.1.4/24');
  });

  it('CHECK passes against prevResult and fails when the addresses differ; GC frees what is not listed', () => {
    const add = call(emptyCniState(), 'ADD', conf(), 'a');
    const prev = JSON.parse(add.stdout);
    expect(call(add.state, 'CHECK', conf({ prevResult: prev }), 'a')).toMatchObject({ exit: 0 });
    const bad = call(
      add.state,
      'CHECK',
      conf({ prevResult: { ...prev, ips: [{ address: '10.244.1.9/24' }] } }),
      'a',
    );
    expect(bad.exit).toBe(1);
    expect(JSON.parse(bad.stdout).code).toBe(999);
    const gc = invokeCni({
      env: { CNI_COMMAND: 'GC' },
      stdin: conf({ 'cni.dev/valid-attachments': [] }),
      state: add.state,
    });
    expect(gc.exit).toBe(0);
    expect(gc.state.networks.cbr0!.allocations).toEqual({});
  });

  it("errors carry the spec's codes: 4 env, 6 decode, 1 version, 7 config, 999 duplicate and exhaustion", () => {
    const code = (r: ReturnType<typeof call>) => [
      r.exit,
      JSON.parse(r.stdout).code,
      JSON.parse(r.stdout).msg,
    ];
    const noEnv = invokeCni({ env: { CNI_COMMAND: 'ADD' }, stdin: conf(), state: emptyCniState() });
    expect(code(noEnv)).toEqual([
      1,
      4,
      'required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME] missing',
    ]);
    expect(code(call(emptyCniState(), 'ADD', '{nope'))[1]).toBe(6);
    expect(code(call(emptyCniState(), 'ADD', conf({ cniVersion: '9.9.9' })))[1]).toBe(1);
    expect(code(call(emptyCniState(), 'ADD', conf({ type: 'macvlan' })))[1]).toBe(7);
    expect(code(call(emptyCniState(), 'ADD', conf({}, { ranges: [[{ subnet: '10.0.0.0/31' }]] })))).toEqual([
      1,
      7,
      'Network 10.0.0.0/31 too small to allocate from',
    ]);
    const once = call(emptyCniState(), 'ADD', conf({}, { ranges: [[{ subnet: '10.0.0.0/30' }]] }), 'a');
    expect(JSON.parse(once.stdout).ips[0].address).toBe('10.0.0.2/30');
    expect(
      code(call(once.state, 'ADD', conf({}, { ranges: [[{ subnet: '10.0.0.0/30' }]] }), 'b'))[2],
    ).toMatch(/no IP addresses available in range set/);
    expect(code(call(once.state, 'ADD', conf({}, { ranges: [[{ subnet: '10.0.0.0/30' }]] }), 'a'))[1]).toBe(
      999,
    );
    expect(code(call(emptyCniState(), 'NOPE', conf()))[1]).toBe(4);
  });

  it('0.2.0 configs get the legacy result (ip4), 0.4.0 the ips with a version field', () => {
    expect(JSON.parse(call(emptyCniState(), 'ADD', conf({ cniVersion: '0.2.0' })).stdout).ip4).toMatchObject({
      ip: '10.244.1.2/24',
      gateway: '10.244.1.1',
    });
    expect(
      JSON.parse(call(emptyCniState(), 'ADD', conf({ cniVersion: '0.4.0' })).stdout).ips[0].version,
    ).toBe('4');
  });
});

describe('kpath cni (the command)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kpath-cni-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it('keeps the allocations in --state between invocations, as host-local keeps its files', async () => {
    const io = () => bufferIO(dir);
    const env = (cid: string) => ({
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: cid,
      CNI_NETNS: `/run/netns/${cid}`,
      CNI_IFNAME: 'eth0',
    });
    const a = io();
    expect(await cniRun({ state: 'st.json' }, a, { env: env('x'), stdin: () => conf() })).toBe(0);
    const b = io();
    expect(await cniRun({ state: 'st.json' }, b, { env: env('y'), stdin: () => conf() })).toBe(0);
    expect(JSON.parse(a.stdout()).ips[0].address).toBe('10.244.1.2/24');
    expect(JSON.parse(b.stdout()).ips[0].address).toBe('10.244.1.3/24');
    const c = io();
    expect(await cniRun({ state: 'st.json' }, c, { env: env('x'), stdin: () => conf() })).toBe(1);
    expect(JSON.parse(c.stdout()).code).toBe(999);
  });
});
