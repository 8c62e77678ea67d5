/**
 * kube-proxy's TestSyncProxyRulesRepeated (proxier_test.go, partial-sync era, no nfacct), rebuilt as
 * a sequence of kpath snapshots: each partial payload, after upstream's sorting, equals upstream's.
 */
import { describe, expect, it } from 'vitest';
import { diffSnapshots } from '../../netmodel/cluster/index.js';
import {
  changedServicesOf,
  renderNode,
  renderPartialSync,
  type SyncState,
} from '../../proxy/iptables/index.js';
import {
  canonical,
  cluster,
  dedent,
  kpCluster,
  namespaces,
  service,
  slice,
  TEST_NODE,
  testNode,
  UPSTREAM_OPTS,
} from './helpers.js';

type Obj = Record<string, unknown>;

const FILTER = `*filter
:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FIREWALL - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
`;
const FILTER_TAIL = `-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
`;
const NAT_FIXED = `-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
`;
const NAT_HEAD = `*nat
:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-POSTROUTING - [0:0]
`;
const LAST = `-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\n`;
const cip = (ns: string, port: number, ip: string, chain: string) =>
  `-A KUBE-SERVICES -m comment --comment "${ns}:p${port} cluster IP" -m tcp -p tcp -d ${ip} --dport ${port} -j ${chain}\n`;
const SVC1 = cip('ns1/svc1', 80, '172.30.0.41', 'KUBE-SVC-XPGD46QRK7WJZT7O');
const SVC2 = cip('ns2/svc2', 8080, '172.30.0.42', 'KUBE-SVC-2VJB64SDSIJUP5T6');
const SVC3 = cip('ns3/svc3', 80, '172.30.0.43', 'KUBE-SVC-X27LE4BHSL4DOUIK');
const SVC4 = cip('ns4/svc4', 80, '172.30.0.44', 'KUBE-SVC-4SW47YFZTEDKD3PK');

const svcDoc = (n: number, port: number) =>
  service(`ns${n}`, `svc${n}`, {
    clusterIP: `172.30.0.4${n}`,
    ports: [{ name: `p${port}`, port, protocol: 'TCP' }],
  });
const sliceDoc = (n: number, port: number, ips: string[]) =>
  slice(
    `ns${n}`,
    `svc${n}`,
    [{ name: `p${port}`, port }],
    ips.map((ip) => ({ ip })),
  );

const base = [kpCluster(), testNode(), ...namespaces('ns1', 'ns2', 'ns3', 'ns4')];
const snap = (...docs: Obj[]) => cluster(...base, ...docs);

describe('TestSyncProxyRulesRepeated', () => {
  it('writes only changed services, and deletes stale chains', () => {
    const s1 = snap(
      svcDoc(1, 80),
      svcDoc(2, 8080),
      sliceDoc(1, 80, ['10.0.1.1']),
      sliceDoc(2, 8080, ['10.0.2.1']),
    );
    const full = renderNode(s1, TEST_NODE, UPSTREAM_OPTS);
    expect(canonical(full.restore)).toBe(
      FILTER +
        FILTER_TAIL +
        dedent(`
        *nat
        :KUBE-NODEPORTS - [0:0]
        :KUBE-SERVICES - [0:0]
        :KUBE-MARK-MASQ - [0:0]
        :KUBE-POSTROUTING - [0:0]
        :KUBE-SEP-SNQ3ZNILQDEJNDQO - [0:0]
        :KUBE-SEP-UHEGFW77JX3KXTOV - [0:0]
        :KUBE-SVC-2VJB64SDSIJUP5T6 - [0:0]
        :KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
        -A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O
        -A KUBE-SERVICES -m comment --comment "ns2/svc2:p8080 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 8080 -j KUBE-SVC-2VJB64SDSIJUP5T6
        -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
        -A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
        -A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
        -A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
        -A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
        -A KUBE-SEP-SNQ3ZNILQDEJNDQO -m comment --comment ns1/svc1:p80 -s 10.0.1.1 -j KUBE-MARK-MASQ
        -A KUBE-SEP-SNQ3ZNILQDEJNDQO -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.1.1:80
        -A KUBE-SEP-UHEGFW77JX3KXTOV -m comment --comment ns2/svc2:p8080 -s 10.0.2.1 -j KUBE-MARK-MASQ
        -A KUBE-SEP-UHEGFW77JX3KXTOV -m comment --comment ns2/svc2:p8080 -m tcp -p tcp -j DNAT --to-destination 10.0.2.1:8080
        -A KUBE-SVC-2VJB64SDSIJUP5T6 -m comment --comment "ns2/svc2:p8080 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 8080 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
        -A KUBE-SVC-2VJB64SDSIJUP5T6 -m comment --comment "ns2/svc2:p8080 -> 10.0.2.1:8080" -j KUBE-SEP-UHEGFW77JX3KXTOV
        -A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
        -A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.0.1.1:80" -j KUBE-SEP-SNQ3ZNILQDEJNDQO
        COMMIT
        `),
    );

    let prev = s1;
    let state: SyncState = full.state;
    const step = (next: ReturnType<typeof snap>) => {
      const r = renderPartialSync(prev, next, TEST_NODE, state, UPSTREAM_OPTS);
      // The incremental path (only the store's changed services recomputed) writes the same payload.
      const hint = changedServicesOf(diffSnapshots(prev, next));
      const inc = renderPartialSync(prev, next, TEST_NODE, state, {
        ...UPSTREAM_OPTS,
        changedServices: hint,
      });
      expect(inc.restore).toBe(r.restore);
      expect([...inc.state.natChains].sort()).toEqual([...r.state.natChains].sort());
      prev = next;
      state = r.state;
      return r;
    };

    // Add svc3 with an endpoint: only its chains are written.
    const s2 = snap(
      svcDoc(1, 80),
      svcDoc(2, 8080),
      svcDoc(3, 80),
      sliceDoc(1, 80, ['10.0.1.1']),
      sliceDoc(2, 8080, ['10.0.2.1']),
      sliceDoc(3, 80, ['10.0.3.1']),
    );
    const r2 = step(s2);
    expect(r2.updatedServices).toEqual(['ns3/svc3']);
    expect(canonical(r2.restore)).toBe(
      `${FILTER}${FILTER_TAIL}${NAT_HEAD}:KUBE-SEP-BSWRHOQ77KEXZLNL - [0:0]\n:KUBE-SVC-X27LE4BHSL4DOUIK - [0:0]\n${SVC1}${SVC2}${SVC3}${LAST}${NAT_FIXED}` +
        dedent(`
        -A KUBE-SEP-BSWRHOQ77KEXZLNL -m comment --comment ns3/svc3:p80 -s 10.0.3.1 -j KUBE-MARK-MASQ
        -A KUBE-SEP-BSWRHOQ77KEXZLNL -m comment --comment ns3/svc3:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.3.1:80
        -A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
        -A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 -> 10.0.3.1:80" -j KUBE-SEP-BSWRHOQ77KEXZLNL
        COMMIT
        `),
    );

    // Delete svc2: its chains are flushed and deleted; nothing else is written.
    const s3 = snap(
      svcDoc(1, 80),
      svcDoc(3, 80),
      sliceDoc(1, 80, ['10.0.1.1']),
      sliceDoc(2, 8080, ['10.0.2.1']),
      sliceDoc(3, 80, ['10.0.3.1']),
    );
    const r3 = step(s3);
    expect(r3.deletedChains).toEqual(['KUBE-SEP-UHEGFW77JX3KXTOV', 'KUBE-SVC-2VJB64SDSIJUP5T6']);
    expect(canonical(r3.restore)).toBe(
      `${FILTER}${FILTER_TAIL}${NAT_HEAD}:KUBE-SEP-UHEGFW77JX3KXTOV - [0:0]\n:KUBE-SVC-2VJB64SDSIJUP5T6 - [0:0]\n${SVC1}${SVC3}${LAST}${NAT_FIXED}` +
        '-X KUBE-SEP-UHEGFW77JX3KXTOV\n-X KUBE-SVC-2VJB64SDSIJUP5T6\nCOMMIT\n',
    );

    // Add svc4 without endpoints: a filter REJECT only.
    const s4docs = [
      svcDoc(1, 80),
      svcDoc(3, 80),
      svcDoc(4, 80),
      sliceDoc(1, 80, ['10.0.1.1']),
      sliceDoc(3, 80, ['10.0.3.1']),
    ];
    const r4 = step(snap(...s4docs));
    expect(canonical(r4.restore)).toBe(
      `${FILTER}-A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.44 --dport 80 -j REJECT\n${FILTER_TAIL}${NAT_HEAD}${SVC1}${SVC3}${LAST}${NAT_FIXED}COMMIT\n`,
    );

    // Then its endpoints.
    const s5docs = [
      svcDoc(1, 80),
      svcDoc(3, 80),
      svcDoc(4, 80),
      sliceDoc(1, 80, ['10.0.1.1']),
      sliceDoc(4, 80, ['10.0.4.1']),
    ];
    const r5 = step(snap(...s5docs, sliceDoc(3, 80, ['10.0.3.1'])));
    expect(canonical(r5.restore)).toBe(
      `${FILTER}${FILTER_TAIL}${NAT_HEAD}:KUBE-SEP-AYCN5HPXMIRJNJXU - [0:0]\n:KUBE-SVC-4SW47YFZTEDKD3PK - [0:0]\n${SVC1}${SVC3}${SVC4}${LAST}${NAT_FIXED}` +
        dedent(`
        -A KUBE-SEP-AYCN5HPXMIRJNJXU -m comment --comment ns4/svc4:p80 -s 10.0.4.1 -j KUBE-MARK-MASQ
        -A KUBE-SEP-AYCN5HPXMIRJNJXU -m comment --comment ns4/svc4:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.4.1:80
        -A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d 172.30.0.44 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
        -A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> 10.0.4.1:80" -j KUBE-SEP-AYCN5HPXMIRJNJXU
        COMMIT
        `),
    );

    // Change svc3's endpoint: its SVC and new SEP are written, the old SEP deleted.
    const r6 = step(snap(...s5docs, sliceDoc(3, 80, ['10.0.3.2'])));
    expect(canonical(r6.restore)).toBe(
      `${FILTER}${FILTER_TAIL}${NAT_HEAD}:KUBE-SEP-BSWRHOQ77KEXZLNL - [0:0]\n:KUBE-SEP-DKCFIS26GWF2WLWC - [0:0]\n:KUBE-SVC-X27LE4BHSL4DOUIK - [0:0]\n${SVC1}${SVC3}${SVC4}${LAST}${NAT_FIXED}` +
        dedent(`
        -A KUBE-SEP-DKCFIS26GWF2WLWC -m comment --comment ns3/svc3:p80 -s 10.0.3.2 -j KUBE-MARK-MASQ
        -A KUBE-SEP-DKCFIS26GWF2WLWC -m comment --comment ns3/svc3:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.3.2:80
        -A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
        -A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 -> 10.0.3.2:80" -j KUBE-SEP-DKCFIS26GWF2WLWC
        -X KUBE-SEP-BSWRHOQ77KEXZLNL
        COMMIT
        `),
    );

    // Add a second endpoint to svc3.
    const s7 = snap(...s5docs, sliceDoc(3, 80, ['10.0.3.2', '10.0.3.3']));
    const r7 = step(s7);
    expect(canonical(r7.restore)).toBe(
      `${FILTER}${FILTER_TAIL}${NAT_HEAD}:KUBE-SEP-DKCFIS26GWF2WLWC - [0:0]\n:KUBE-SEP-JVVZVJ7BSEPPRNBS - [0:0]\n:KUBE-SVC-X27LE4BHSL4DOUIK - [0:0]\n${SVC1}${SVC3}${SVC4}${LAST}${NAT_FIXED}` +
        dedent(`
        -A KUBE-SEP-DKCFIS26GWF2WLWC -m comment --comment ns3/svc3:p80 -s 10.0.3.2 -j KUBE-MARK-MASQ
        -A KUBE-SEP-DKCFIS26GWF2WLWC -m comment --comment ns3/svc3:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.3.2:80
        -A KUBE-SEP-JVVZVJ7BSEPPRNBS -m comment --comment ns3/svc3:p80 -s 10.0.3.3 -j KUBE-MARK-MASQ
        -A KUBE-SEP-JVVZVJ7BSEPPRNBS -m comment --comment ns3/svc3:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.3.3:80
        -A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
        -A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 -> 10.0.3.2:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-DKCFIS26GWF2WLWC
        -A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 -> 10.0.3.3:80" -j KUBE-SEP-JVVZVJ7BSEPPRNBS
        COMMIT
        `),
    );

    // No change: no service chain is written.
    const r8 = step(s7);
    expect(r8.updatedServices).toEqual([]);
    expect(canonical(r8.restore)).toBe(
      `${FILTER}${FILTER_TAIL}${NAT_HEAD}${SVC1}${SVC3}${SVC4}${LAST}${NAT_FIXED}COMMIT\n`,
    );

    // A full sync then equals a fresh render.
    expect(renderNode(s7, TEST_NODE, UPSTREAM_OPTS).state.natChains).toEqual(state.natChains);
  });

  it('without a previous state, starts from a full sync of the previous snapshot', () => {
    const a = snap(svcDoc(1, 80), sliceDoc(1, 80, ['10.0.1.1']));
    const b = snap(svcDoc(1, 80), sliceDoc(1, 80, ['10.0.1.2']));
    const r = renderPartialSync(a, b, TEST_NODE, undefined, UPSTREAM_OPTS);
    expect(r.updatedServices).toEqual(['ns1/svc1']);
    expect(r.deletedChains).toEqual(['KUBE-SEP-SNQ3ZNILQDEJNDQO']);
  });
});
