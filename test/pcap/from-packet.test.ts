import { describe, expect, it } from 'vitest';
import { parseIP } from '../../netmodel/addr.js';
import { ACK, packet, SYN } from '../../netmodel/packet.js';
import {
  checkFrame,
  decodeFrame,
  encodeFrame,
  frameFields,
  frameFromPacket,
} from '../../netmodel/pcap/index.js';

const hop = { srcMac: '0a:58:0a:f4:01:02', dstMac: '0a:58:0a:f4:01:01', ttl: 64 };
const a = parseIP('10.244.1.2');
const b = parseIP('10.244.2.2');

describe('frameFromPacket', () => {
  it('a SYN as Linux sends it through a 1450 overlay: 60 bytes of IP, MSS 1410, DF', () => {
    const f = frameFromPacket(
      packet({ proto: 'tcp', src: a, dst: b, sport: 40000, dport: 8080, tcp: SYN, length: 60 }),
      hop,
      {
        mss: 1410,
      },
    );
    expect(frameFields(f)).toMatchObject({
      'ip.len': 60,
      'ip.flags.df': true,
      'ip.ttl': 64,
      'tcp.hdr_len': 40,
      'tcp.flags': 0x02,
      'tcp.options.mss_val': 1410,
      'tcp.options.wscale.shift': 10,
      'tcp.window_size_value': 64860,
      'frame.len': 74,
    });
    const bytes = encodeFrame(f);
    expect(checkFrame(bytes)).toEqual([]);
    expect(decodeFrame(bytes)).toEqual(f);
  });

  it('sizes the payload so the IP datagram has the packet`s length (ACK with data, UDP, echo)', () => {
    const ack = frameFromPacket(
      packet({ proto: 'tcp', src: a, dst: b, sport: 40000, dport: 8080, tcp: ACK, length: 57 }),
      hop,
    );
    expect(frameFields(ack)).toMatchObject({ 'ip.len': 57, 'tcp.hdr_len': 32, 'tcp.len': 5 });
    const udp = frameFromPacket(
      packet({ proto: 'udp', src: a, dst: b, sport: 40001, dport: 5000, length: 128 }),
      hop,
    );
    expect(frameFields(udp)).toMatchObject({ 'ip.len': 128, 'udp.length': 108 });
    const ping = frameFromPacket(
      packet({ proto: 'icmp', src: a, dst: b, icmp: { type: 8, code: 0, id: 7 }, length: 1450 }),
      hop,
    );
    expect(frameFields(ping)).toMatchObject({
      'ip.len': 1450,
      'icmp.type': 8,
      'icmp.ident': 7,
      'ip.flags.df': true,
    });
    const reply = frameFromPacket(
      packet({ proto: 'icmp', src: b, dst: a, icmp: { type: 0, code: 0, id: 7 }, length: 84 }),
      {
        ...hop,
        ttl: 62,
      },
    );
    expect(frameFields(reply)).toMatchObject({ 'ip.len': 84, 'ip.flags.df': false, 'ip.ttl': 62 });
    const sctp = frameFromPacket(
      packet({ proto: 'sctp', src: a, dst: b, sport: 1, dport: 2, length: 52 }),
      hop,
    );
    expect(frameFields(sctp)['ip.len']).toBe(52);
    for (const f of [ack, udp, ping, reply, sctp]) expect(checkFrame(encodeFrame(f))).toEqual([]);
  });

  it('IPv6: hop limit and next header', () => {
    const f = frameFromPacket(
      packet({
        proto: 'udp',
        src: parseIP('fd00::1'),
        dst: parseIP('fd00::2'),
        sport: 1,
        dport: 2,
        length: 60,
      }),
      hop,
    );
    expect(frameFields(f)).toMatchObject({ 'ipv6.plen': 20, 'ipv6.nxt': 17, 'ipv6.hlim': 64 });
    expect(checkFrame(encodeFrame(f))).toEqual([]);
  });
});
