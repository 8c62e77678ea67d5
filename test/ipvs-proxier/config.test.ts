/**
 * KubeProxyConfiguration.ipvs decoded and validated as kube-proxy v1.31 does
 * (pkg/proxy/apis/config/validation: validateKubeProxyIPVSConfiguration, only in ipvs mode; v1alpha1
 * defaults: syncPeriod 30s; any scheduler name passes validation since PR 114878, and kube-proxy then
 * fails at start-up when the kernel has no such scheduler).
 */
import { describe, expect, it } from 'vitest';
import { parseGoDuration } from '../../netmodel/cluster/decode-config.js';
import { formatDiagnostic } from '../../netmodel/cluster/index.js';
import { errorsOf, snapshotOf } from '../helpers/cluster.js';

const kp = (o: Record<string, unknown>) => ({
  apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
  kind: 'KubeProxyConfiguration',
  ...o,
});

function expectError(errors: ReturnType<typeof errorsOf>, field: string, fragment: RegExp) {
  const hit = errors.find((e) => e.field === field);
  expect(hit, `no error on ${field}; got:\n${errors.map(formatDiagnostic).join('\n')}`).toBeDefined();
  expect(hit!.message).toMatch(fragment);
}

describe('KubeProxyConfiguration mode: ipvs', () => {
  it('is accepted, with kube-proxy defaults (rr, 30s, no timeouts, strictARP off)', () => {
    const s = snapshotOf(kp({ mode: 'ipvs' }));
    expect(s.proxy.mode).toBe('ipvs');
    expect(s.proxy.ipvsScheduler).toBe('rr');
    expect(s.proxy.ipvsStrictARP).toBe(false);
    expect(s.proxy.ipvs).toEqual({
      syncPeriodSeconds: 30,
      minSyncPeriodSeconds: 0,
      tcpTimeoutSeconds: 0,
      tcpFinTimeoutSeconds: 0,
      udpTimeoutSeconds: 0,
      excludeCIDRs: [],
    });
  });

  it('decodes every ipvs field, durations as Go writes them', () => {
    const s = snapshotOf(
      kp({
        mode: 'ipvs',
        ipvs: {
          scheduler: 'mh',
          strictARP: true,
          syncPeriod: '1m30s',
          minSyncPeriod: '500ms',
          tcpTimeout: '15m',
          tcpFinTimeout: '2m',
          udpTimeout: '300s',
          excludeCIDRs: ['10.0.0.0/8', '192.168.1.5/24'],
        },
      }),
    );
    expect(s.proxy.ipvsScheduler).toBe('mh');
    expect(s.proxy.ipvsStrictARP).toBe(true);
    expect(s.proxy.ipvs.syncPeriodSeconds).toBe(90);
    expect(s.proxy.ipvs.minSyncPeriodSeconds).toBe(0.5);
    expect(s.proxy.ipvs.tcpTimeoutSeconds).toBe(900);
    expect(s.proxy.ipvs.tcpFinTimeoutSeconds).toBe(120);
    expect(s.proxy.ipvs.udpTimeoutSeconds).toBe(300);
    // ParseCIDRSloppy accepts host bits.
    expect(s.proxy.ipvs.excludeCIDRs.map((p) => p.text)).toEqual(['10.0.0.0/8', '192.168.1.0/24']);
  });

  it('refuses what kube-proxy refuses, naming the field', () => {
    const bad = (ipvs: Record<string, unknown>) => errorsOf(kp({ mode: 'ipvs', ipvs }));
    expectError(bad({ syncPeriod: '-1s' }), 'ipvs.syncPeriod', /greater than 0/);
    expectError(bad({ minSyncPeriod: '-1s' }), 'ipvs.minSyncPeriod', /greater than or equal to 0/);
    expectError(bad({ syncPeriod: '10s', minSyncPeriod: '20s' }), 'ipvs.syncPeriod', /minSyncPeriod/);
    expectError(bad({ tcpTimeout: '-5s' }), 'ipvs.tcpTimeout', /greater than or equal to 0/);
    expectError(bad({ tcpFinTimeout: '-5s' }), 'ipvs.tcpFinTimeout', /greater than or equal to 0/);
    expectError(bad({ udpTimeout: '-5s' }), 'ipvs.udpTimeout', /greater than or equal to 0/);
    expectError(bad({ excludeCIDRs: ['10.0.0.0'] }), 'ipvs.excludeCIDRs[0]', /valid CIDR/);
    expectError(bad({ tcpTimeout: '15 minutes' }), 'ipvs.tcpTimeout', /duration/);
    expectError(bad({ scheduler: 'fastest' }), 'ipvs.scheduler', /no IPVS scheduler "fastest".*"rr"/);
  });

  it('ipvs fields are validated only in ipvs mode, as kube-proxy does', () => {
    expect(errorsOf(kp({ mode: 'iptables', ipvs: { minSyncPeriod: '-1s' } }))).toEqual([]);
  });

  it('accepts every scheduler the kernel ships', () => {
    for (const s of [
      'rr',
      'wrr',
      'lc',
      'wlc',
      'lblc',
      'lblcr',
      'dh',
      'sh',
      'sed',
      'nq',
      'mh',
      'fo',
      'ovf',
      'twos',
    ])
      expect(snapshotOf(kp({ mode: 'ipvs', ipvs: { scheduler: s } })).proxy.ipvsScheduler).toBe(s);
  });

  it('parseGoDuration follows time.ParseDuration', () => {
    expect(parseGoDuration('0')).toBe(0);
    expect(parseGoDuration('1h2m3s')).toBe(3723);
    expect(parseGoDuration('1.5s')).toBe(1.5);
    expect(parseGoDuration('-2m')).toBe(-120);
    expect(parseGoDuration('300ms')).toBeCloseTo(0.3);
    expect(parseGoDuration('10')).toBeUndefined();
    expect(parseGoDuration('')).toBeUndefined();
    expect(parseGoDuration('1d')).toBeUndefined();
  });
});
