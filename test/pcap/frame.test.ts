import { describe, expect, it } from 'vitest';
import {
  checkFrame,
  comparableFields,
  crc32c,
  decodeFrame,
  encodeFrame,
  encodeIpv4,
  type Frame,
  fragmentIpv4,
  frameFields,
  hexBytes,
  hexText,
  ICMP_QUOTE_MAX,
  icmpEchoReply,
  icmpEchoRequest,
  internetChecksum,
  reassembleIpv4,
  udpFlowSrcPort,
  vxlanFlowHash,
} from '../../netmodel/pcap/index.js';
import { allFrames, bigDf, fragments, fragNeeded, synOnFlannel, synOnUnderlay, tcpSyn } from './builders.js';

describe('frame codec', () => {
  for (const [name, f] of Object.entries(allFrames)) {
    it(`round-trips ${name}: decode(encode(x)) equals x, and its checksums verify`, () => {
      const bytes = encodeFrame(f);
      expect(decodeFrame(bytes)).toEqual(f);
      expect(checkFrame(bytes)).toEqual([]);
    });
  }

  it('computes the IPv4 header checksum of the classic worked example (RFC 1071 style, 0xb861)', () => {
    // 4500 0073 0000 4000 4011 [b861] c0a8 0001 c0a8 00c7: the header checksum example often used to
    // teach RFC 1071; the stored value is 0xb861.
    const hdr = hexBytes('450000730000400040110000c0a80001c0a800c7');
    expect(internetChecksum(hdr).toString(16)).toBe('b861');
    const f: Frame = {
      eth: { dst: '00:00:00:00:00:02', src: '00:00:00:00:00:01', type: 0x0800 },
      ipv4: {
        dscp: 0,
        ecn: 0,
        id: 0,
        df: true,
        mf: false,
        fragOffset: 0,
        ttl: 64,
        protocol: 17,
        src: '192.168.0.1',
        dst: '192.168.0.199',
      },
      udp: { sport: 1, dport: 2 },
      payload: hexText(new Uint8Array(0x73 - 28)),
    };
    expect(hexText(encodeIpv4(f).subarray(0, 20))).toBe('45000073000040004011b861c0a80001c0a800c7');
  });

  it('computes CRC32c with the standard check value (crc32c("123456789") = 0xe3069283)', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
  });

  it('writes SCTP CRC32c least significant byte first and verifies a known INIT', () => {
    const bytes = encodeFrame(allFrames.sctpInit!);
    const sctp = bytes.subarray(34);
    const stored = sctp.slice(8, 12);
    const zeroed = sctp.slice();
    zeroed.fill(0, 8, 12);
    const crc = crc32c(zeroed);
    expect(Array.from(stored)).toEqual([crc & 255, (crc >>> 8) & 255, (crc >>> 16) & 255, crc >>> 24]);
  });

  it('flags a wrong checksum and a wrong length', () => {
    const bytes = encodeFrame(tcpSyn);
    bytes[50] = bytes[50]! ^ 0xff;
    expect(checkFrame(bytes)).toEqual([expect.stringContaining('offset 50')]);
    const trunc = encodeFrame(tcpSyn).subarray(0, 40);
    expect(checkFrame(trunc)[0]).toMatch(/truncated frame/);
  });

  it('writes a TCP SYN as Linux does: 40-byte header with MSS, SACK_PERM, TS, NOP, WS', () => {
    const b = encodeFrame(tcpSyn);
    expect(b.length).toBe(74);
    // 02 04 0582 | 04 02 | 08 0a tsval tsecr | 01 | 03 03 07 (tcp_options_write's order for a SYN)
    expect(hexText(b.subarray(54, 74))).toBe('020405820402080a0001e2400000000001030307');
    expect(b[46]! >> 4).toBe(10);
    expect(b[47]).toBe(0x02);
  });

  it('sends the UDP checksum 0xffff when the sum is 0 and 0 only when asked (VXLAN noudpcsum)', () => {
    const f = synOnUnderlay;
    const on = encodeFrame(f);
    expect((on[40]! << 8) | on[41]!).not.toBe(0);
    const off = encodeFrame({ ...f, udp: { ...f.udp!, zeroChecksum: true } });
    expect((off[40]! << 8) | off[41]!).toBe(0);
    expect(decodeFrame(off).udp?.zeroChecksum).toBe(true);
    expect(() =>
      encodeFrame({ ...allFrames.ipv6Udp!, udp: { sport: 1, dport: 2, zeroChecksum: true } }),
    ).toThrow(/not allowed over IPv6/);
  });

  it('VXLAN adds 50 bytes inside the underlay IP MTU and 64 on the wire (flags 0x08, VNI in bytes 4-6)', () => {
    const inner = encodeFrame(synOnFlannel);
    const outer = encodeFrame(synOnUnderlay);
    expect(outer.length - inner.length).toBe(50);
    const innerIpLen = inner.length - 14;
    expect(outer.length - innerIpLen).toBe(64);
    const vx = outer.subarray(42, 50);
    expect(hexText(vx)).toBe('0800000000000100');
    expect((outer[36]! << 8) | outer[37]!).toBe(8472);
    const fields = frameFields(synOnUnderlay);
    expect(fields['ip.len']).toBe((fields['inner.ip.len'] as number) + 50);
    expect(fields['inner.ip.ttl']).toBe(63);
    expect(fields['vxlan.vni']).toBe(1);
  });

  it('maps a flow hash into the local port range as udp_flow_src_port does', () => {
    // hash ^= hash << 16; port = ((u64)hash * (max - min) >> 32) + min, over [32768, 60999].
    expect(udpFlowSrcPort(0)).toBe(32768);
    expect(udpFlowSrcPort(0x0000ffff)).toBe(Math.floor((0xffffffff * 28231) / 2 ** 32) + 32768);
    expect(udpFlowSrcPort(0x80000000)).toBe(32768 + Math.floor(28231 / 2));
    for (let h = 1; h < 1e6; h += 7919) {
      const p = udpFlowSrcPort(h * 2654435761);
      expect(p).toBeGreaterThanOrEqual(32768);
      expect(p).toBeLessThan(60999);
    }
    const fwd = vxlanFlowHash(tcpSyn);
    expect(vxlanFlowHash({ ...tcpSyn, tcp: { ...tcpSyn.tcp!, flags: { ack: true } } })).toBe(fwd);
    const rev: Frame = {
      ...tcpSyn,
      ipv4: { ...tcpSyn.ipv4!, src: tcpSyn.ipv4!.dst, dst: tcpSyn.ipv4!.src },
      tcp: { ...tcpSyn.tcp!, sport: 8080, dport: 40000 },
    };
    expect(vxlanFlowHash(rev)).not.toBe(fwd);
  });

  it('quotes 548 bytes of the refused datagram in frag-needed (icmp_send caps the reply at 576)', () => {
    const f = frameFields(fragNeeded);
    expect(f['icmp.type']).toBe(3);
    expect(f['icmp.code']).toBe(4);
    expect(f['icmp.mtu']).toBe(1450);
    expect(f['quote.icmp.quoted_len']).toBe(ICMP_QUOTE_MAX);
    expect(f['quote.ip.len']).toBe(1500);
    expect(f['ip.len']).toBe(576);
    expect(f['ip.dsfield.dscp']).toBe(48);
    expect(f['ip.dst']).toBe('10.244.1.2');
  });

  it('fragments as ip_do_fragment: 1424-byte pieces under MTU 1450, MF on all but the last, in order', () => {
    expect(fragments.map((f) => frameFields(f)['ip.len'])).toEqual([1444, 20 + 1480 - 1424]);
    expect(fragments.map((f) => f.ipv4!.fragOffset)).toEqual([0, 1424]);
    expect(fragments.map((f) => f.ipv4!.mf)).toEqual([true, false]);
    const whole = encodeIpv4({ ...bigDf, ipv4: { ...bigDf.ipv4!, df: false } });
    expect(hexText(reassembleIpv4(fragments))).toBe(hexText(whole.subarray(20)));
    expect(() => fragmentIpv4(bigDf, 1450)).toThrow(/DF set does not fit MTU 1450/);
  });

  it('leaves randomised fields out of the comparable view', () => {
    const c = comparableFields(synOnUnderlay);
    expect(c['ip.id']).toBeUndefined();
    expect(c['inner.tcp.seq_raw']).toBeUndefined();
    expect(c['udp.srcport']).toBeUndefined();
    expect(c['udp.dstport']).toBe(8472);
    expect(c['inner.tcp.options.mss_val']).toBe(1410);
  });

  it('rejects bad descriptions with KPATH_E_FRAME naming the field', () => {
    const bad = (f: Frame) => () => encodeFrame(f);
    expect(bad({ ...tcpSyn, eth: { ...tcpSyn.eth, src: 'zz' } })).toThrow(/not a MAC address/);
    expect(bad({ ...tcpSyn, ipv4: { ...tcpSyn.ipv4!, ttl: 256 } })).toThrow(/ipv4.ttl 256 is out of range/);
    expect(bad({ ...tcpSyn, ipv4: { ...tcpSyn.ipv4!, protocol: 17 } })).toThrow(/needs IP protocol 6/);
    expect(bad({ ...tcpSyn, ipv4: { ...tcpSyn.ipv4!, mf: true } })).toThrow(/fragment carries its payload/);
    let code = '';
    try {
      encodeFrame({ ...tcpSyn, ipv4: { ...tcpSyn.ipv4!, ttl: -1 } });
    } catch (e) {
      code = (e as { code: string }).code;
    }
    expect(code).toBe('KPATH_E_FRAME');
  });
});

describe('ping as iputils sends it', () => {
  it('reproduces a captured ping -s 56 request byte for byte (dumpcap on lo, docs/podnet-measured.md)', () => {
    // Captured: 127.0.0.1 -> 127.0.0.1, IP id 0xa6c0, ICMP id 0x2fb7 seq 1, sent at 1796424208.806447.
    const captured =
      '000000000000000000000000080045000054a6c04000400195e67f0000017f000001' +
      '0800aa792fb700011042136b000000002f4e0c0000000000' +
      '101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637';
    const f = icmpEchoRequest({
      srcMac: '00:00:00:00:00:00',
      dstMac: '00:00:00:00:00:00',
      src: '127.0.0.1',
      dst: '127.0.0.1',
      id: 0x2fb7,
      ipId: 0xa6c0,
      sentAtMicros: 1796424208n * 1_000_000n + 806447n,
    });
    expect(hexText(encodeFrame(f))).toBe(captured);
    const reply = icmpEchoReply(f);
    expect(frameFields(reply)).toMatchObject({
      'icmp.type': 0,
      'ip.flags.df': false,
      'ip.src': '127.0.0.1',
      'icmp.seq': 1,
    });
    expect(reply.payload).toBe(f.payload);
  });
});
