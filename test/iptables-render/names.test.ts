import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  base32,
  chainHash,
  clearChainNameCache,
  endpointChainName,
  isServiceChainName,
  probability,
  serviceChainName,
} from '../../proxy/iptables/index.js';

describe('chain names', () => {
  it('base32 is RFC 4648 with padding', () => {
    const enc = (s: string) => base32(new TextEncoder().encode(s));
    // RFC 4648 section 10 test vectors.
    expect(['', 'f', 'fo', 'foo', 'foob', 'fooba', 'foobar'].map(enc)).toEqual([
      '',
      'MY======',
      'MZXQ====',
      'MZXW6===',
      'MZXW6YQ=',
      'MZXW6YTB',
      'MZXW6YTBOI======',
    ]);
  });

  it.each([
    ['ns1/svc1:p80', 'KUBE-SVC-XPGD46QRK7WJZT7O'],
    ['ns2/svc2:p80', 'KUBE-SVC-GNZBNJ2PO5MGZ6GT'],
    ['ns3/svc3:p80', 'KUBE-SVC-X27LE4BHSL4DOUIK'],
    ['ns4/svc4:p80', 'KUBE-SVC-4SW47YFZTEDKD3PK'],
    ['ns5/svc5:p80', 'KUBE-SVC-NUKIZ6OKUXPJNT4C'],
    ['ns2/svc2:p8080', 'KUBE-SVC-2VJB64SDSIJUP5T6'],
    ['default/kubernetes:https', 'KUBE-SVC-NPX46M4PTMTKRN6Y'],
    ['kube-system/kube-dns:dns-tcp', 'KUBE-SVC-ERIFXISQEP7F7OF4'],
    ['kube-system/kube-dns:metrics', 'KUBE-SVC-JD5MR3NA4I4DYORP'],
    ['default/web:http', 'KUBE-SVC-CDGGSHYLG3RE2FKL'],
    ['default/sticky', 'KUBE-SVC-BJWR5DPVIKTHVKZU'],
  ])('KUBE-SVC for %s/tcp', (spn, chain) => {
    expect(serviceChainName('KUBE-SVC-', spn, 'TCP')).toBe(chain);
  });

  it('UDP hashes the lower-case protocol', () => {
    expect(serviceChainName('KUBE-SVC-', 'kube-system/kube-dns:dns', 'UDP')).toBe(
      'KUBE-SVC-TCOU7JCQXEZGVUNU',
    );
  });

  it('the four service prefixes share the hash', () => {
    const h = chainHash('ns5/svc5:p80tcp');
    expect(h).toBe('NUKIZ6OKUXPJNT4C');
    for (const p of ['KUBE-SVC-', 'KUBE-SVL-', 'KUBE-EXT-', 'KUBE-FW-'] as const) {
      expect(serviceChainName(p, 'ns5/svc5:p80', 'tcp')).toBe(`${p}${h}`);
    }
  });

  it.each([
    ['ns1/svc1:p80', '10.180.0.1:80', 'KUBE-SEP-SXIVWICOYRO3J4NJ'],
    ['ns4/svc4:p80', '10.180.0.4:80', 'KUBE-SEP-UKSFD7AGPMPPLUHC'],
    ['ns5/svc5:p80', '10.180.0.3:80', 'KUBE-SEP-I77PXRDZVX7PMWMN'],
    ['ns3/svc3:p8081', '203.0.113.4:8081', 'KUBE-SEP-RUVVH7YV3PHQBDOS'],
    ['ns3/svc3:p80', '10.0.3.1:80', 'KUBE-SEP-BSWRHOQ77KEXZLNL'],
    ['default/web:http', '10.244.1.5:8080', 'KUBE-SEP-AFGSLHOD2HFNCBX4'],
    ['default/sticky', '10.244.2.9:6379', 'KUBE-SEP-HILDWSIEI4XI2ISS'],
  ])('KUBE-SEP for %s -> %s', (spn, ep, chain) => {
    expect(endpointChainName(spn, 'tcp', ep)).toBe(chain);
    expect(chain.length).toBeLessThanOrEqual(28);
  });

  it('cached and uncached hashes are base32(sha256) of the text, in any order of use', () => {
    const plain = (t: string) => base32(createHash('sha256').update(t).digest().subarray(0, 10)).slice(0, 16);
    const texts = Array.from(
      { length: 2000 },
      (_, i) => `ns${i % 7}/svc-${i}:p${i % 3}tcp10.${i >> 8}.${i & 255}.1:80`,
    );
    clearChainNameCache();
    for (const t of texts) expect(chainHash(t)).toBe(plain(t));
    for (const t of texts.reverse()) expect(chainHash(t)).toBe(plain(t));
    clearChainNameCache();
    expect(endpointChainName('ns1/svc1:p80', 'TCP', '10.180.0.1:80')).toBe('KUBE-SEP-SXIVWICOYRO3J4NJ');
    expect(endpointChainName('ns1/svc1:p80', 'TCP', '10.180.0.1:80')).toBe('KUBE-SEP-SXIVWICOYRO3J4NJ');
  });

  it('recognises per-service chains', () => {
    expect(isServiceChainName('KUBE-FW-NUKIZ6OKUXPJNT4C')).toBe(true);
    expect(isServiceChainName('KUBE-SERVICES')).toBe(false);
    expect(isServiceChainName('KUBE-XLB-ABC')).toBe(false);
  });
});

describe('probabilities', () => {
  it.each([
    [1, '1.0000000000'],
    [2, '0.5000000000'],
    [3, '0.3333333333'],
    [4, '0.2500000000'],
    [5, '0.2000000000'],
    [6, '0.1666666667'],
    [7, '0.1428571429'],
    [10, '0.1000000000'],
    [100, '0.0100000000'],
    [1000, '0.0010000000'],
    [1024, '0.0009765625'],
    // 1/2048 = 0.00048828125 exactly: Go rounds the tie to even.
    [2048, '0.0004882812'],
    [100000, '0.0000100000'],
    [100001, '0.0000099999'],
  ])('1/%i is %s', (n, text) => {
    expect(probability(n)).toBe(text);
  });
});
