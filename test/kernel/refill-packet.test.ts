import { describe, expect, it } from 'vitest';
import { parseIP } from '../../netmodel/addr.js';
import {
  ACK,
  copyPacket,
  copyPacketInto,
  FIN_ACK,
  packet,
  refillPacket,
  SYN,
} from '../../netmodel/packet.js';

describe('refillPacket: packet() written into an existing packet', () => {
  it('leaves exactly what packet() makes, in the same field order, whatever the packet held before', () => {
    const a = parseIP('10.0.0.1');
    const b = parseIP('10.96.0.10');
    const p = packet({
      proto: 'udp',
      src: b,
      dst: a,
      sport: 53,
      dport: 4000,
      length: 900,
      mark: 0x4000,
      ttl: 3,
      df: true,
      ipId: 7,
      iif: 'eth0',
      oif: 'cni0',
    });
    for (const [proto, tcp] of [
      ['tcp', FIN_ACK],
      ['tcp', ACK],
      ['udp', SYN],
    ] as const) {
      const q = refillPacket(p, proto, a, b, 43210, 80, tcp);
      const want = packet({ proto, src: a, dst: b, sport: 43210, dport: 80, tcp });
      expect(q).toBe(p);
      expect(q).toStrictEqual(want);
      expect(Object.keys(q)).toEqual(Object.keys(want));
    }
  });

  it('copyPacketInto leaves what copyPacket makes, in the same field order, in the packet it is given', () => {
    const a = parseIP('10.0.0.1');
    const b = parseIP('10.96.0.10');
    const from = packet({ proto: 'tcp', src: a, dst: b, sport: 1234, dport: 80, tcp: SYN, mark: 0x4000 });
    const full = packet({
      proto: 'tcp',
      src: b,
      dst: a,
      sport: 80,
      dport: 1234,
      tcp: ACK,
      ttl: 9,
      df: true,
      ipId: 3,
      iif: 'eth0',
      oif: 'cni0',
    });
    const scratch = packet({ proto: 'udp', src: b, dst: a, length: 900, ttl: 1, iif: 'lo' });
    for (const p of [from, full]) {
      const q = copyPacketInto(scratch, p);
      expect(q).toBe(scratch);
      expect(q).toStrictEqual(copyPacket(p));
      expect(Object.keys(q)).toEqual(Object.keys(copyPacket(p)));
    }
  });
});
