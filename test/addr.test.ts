import { describe, expect, it } from 'vitest';
import {
  compareIP,
  joinHostPort,
  parseIP,
  parsePrefix,
  prefixContains,
  tryParseHostPort,
  tryParseIP,
  tryParsePrefix,
} from '../netmodel/addr.js';
import { isKpathError } from '../netmodel/errors.js';
import { TwinMap } from '../netmodel/twins.js';

describe('addresses', () => {
  it('parses IPv4 strictly (no leading zeros) unless sloppy', () => {
    expect(parseIP('10.96.0.10')).toMatchObject({ family: 4, n: 0x0a60000a, text: '10.96.0.10' });
    expect(tryParseIP('010.96.0.10')).toBeUndefined();
    expect(tryParseIP('010.96.0.10', { sloppy: true })!.text).toBe('10.96.0.10');
    expect(tryParseIP('256.0.0.1')).toBeUndefined();
    expect(tryParseIP('1.2.3')).toBeUndefined();
  });
  it('parses IPv6 to canonical text', () => {
    expect(parseIP('FD00:0:0::10').text).toBe('fd00::10');
    expect(parseIP('::1').family).toBe(6);
    expect(tryParseIP('fd00::10/64')).toBeUndefined();
  });
  it('bad addresses throw KPATH_E_ADDRESS with a hint', () => {
    try {
      parseIP('nope');
      expect.unreachable();
    } catch (e) {
      expect(isKpathError(e) && e.code).toBe('KPATH_E_ADDRESS');
      expect((e as Error).message).toMatch(/e\.g\. 10\.96\.0\.10/);
    }
  });
  it('prefixes: containment, strict host bits, bare address is a host prefix', () => {
    const p = parsePrefix('10.244.0.0/16');
    expect(prefixContains(p, parseIP('10.244.255.1'))).toBe(true);
    expect(prefixContains(p, parseIP('10.245.0.1'))).toBe(false);
    expect(prefixContains(p, parseIP('fd00::1'))).toBe(false);
    expect(tryParsePrefix('10.244.0.1/16', { strict: true })).toBeUndefined();
    expect(tryParsePrefix('10.244.0.1/16')!.text).toBe('10.244.0.0/16');
    expect(parsePrefix('10.0.0.1').text).toBe('10.0.0.1/32');
    expect(parsePrefix('0.0.0.0/0').bits).toBe(0);
    expect(prefixContains(parsePrefix('0.0.0.0/0'), parseIP('203.0.113.9'))).toBe(true);
    expect(prefixContains(parsePrefix('fd00:10:96::/112'), parseIP('fd00:10:96::a'))).toBe(true);
  });
  it('host:port both ways, with brackets for IPv6', () => {
    expect(joinHostPort(parseIP('fd00::1'), 80)).toBe('[fd00::1]:80');
    expect(tryParseHostPort('[fd00::1]:80')).toMatchObject({ port: 80 });
    expect(tryParseHostPort('10.0.0.1:65536')).toBeUndefined();
    expect(tryParseHostPort('10.0.0.1', 53)!.port).toBe(53);
  });
  it('orders IPv4 before IPv6, then numerically', () => {
    const ips = ['fd00::1', '10.0.0.2', '9.255.255.255'].map((t) => parseIP(t)).sort(compareIP);
    expect(ips.map((i) => i.text)).toEqual(['9.255.255.255', '10.0.0.2', 'fd00::1']);
  });
});

describe('loopback twins', () => {
  const twins = new TwinMap([
    { model: parsePrefix('172.17.0.0/16'), loopback: parsePrefix('127.17.0.0/16') },
  ]);
  it('10.a.b.c <-> 127.a.b.c', () => {
    expect(twins.toLoopback(parseIP('10.96.0.10'))!.text).toBe('127.96.0.10');
    expect(twins.toModel(parseIP('127.244.1.5'))!.text).toBe('10.244.1.5');
  });
  it('the prefix map adds twins for other ranges', () => {
    expect(twins.toLoopback(parseIP('172.17.0.2'))!.text).toBe('127.17.0.2');
    expect(twins.toModel(parseIP('127.17.0.2'))!.text).toBe('172.17.0.2');
  });
  it('127.0.0.1 is the node itself, and addresses outside the plan have no twin', () => {
    expect(twins.toModel(parseIP('127.0.0.1'))).toBeUndefined();
    expect(twins.toLoopback(parseIP('192.168.1.1'))).toBeUndefined();
    expect(twins.toLoopback(parseIP('fd00::1'))).toBeUndefined();
  });
});
