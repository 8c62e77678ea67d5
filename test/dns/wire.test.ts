import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { createAnswerer } from '../../netmodel/dns/answer.js';
import { formatDig } from '../../netmodel/dns/dig.js';
import { rcodeOf } from '../../netmodel/dns/message.js';
import { Rcode, RRType } from '../../netmodel/dns/wire-constants.js';
import { decodeMessage } from '../../netmodel/dns/wire-read.js';
import { buildZone } from '../../netmodel/dns/zone.js';
import { bigCount, clusterView } from './fixtures.js';
import { query } from './helpers.js';

const a = createAnswerer(buildZone(clusterView()));

function reply(bytes: Uint8Array, transport: 'udp' | 'tcp' = 'udp'): Buffer {
  const o = a.answer(bytes, transport);
  if (o.kind !== 'reply') throw new Error(`dropped: ${o.reason}`);
  return Buffer.from(o.bytes);
}

describe('header handling (miekg/dns accept rules)', () => {
  it('drops packets shorter than a header and responses', () => {
    expect(a.answer(new Uint8Array(11), 'udp').kind).toBe('drop');
    const q = query('svc1.testns.svc.cluster.local');
    q[2] = q[2]! | 0x80;
    expect(a.answer(q, 'udp')).toEqual({ kind: 'drop', reason: 'response' });
  });

  it('NOTIMP for opcodes other than QUERY, header only, opcode echoed', () => {
    const q = query('svc1.testns.svc.cluster.local');
    q[2] = (q[2]! & 0x87) | (2 << 3); // STATUS
    const r = reply(q);
    expect(r.length).toBe(12);
    expect(r[3]! & 0xf).toBe(Rcode.NOTIMP);
    expect((r[2]! >> 3) & 0xf).toBe(2);
    expect(r.readUInt16BE(0)).toBe(4242);
  });

  it('FORMERR for bad counts and unreadable bodies', () => {
    const q = query('svc1.testns.svc.cluster.local');
    for (const [at, v] of [
      [5, 0],
      [5, 2],
      [7, 2],
      [9, 2],
      [11, 3],
    ] as const) {
      const b = Buffer.from(q);
      b[at] = v;
      const r = reply(b);
      expect(r[3]! & 0xf).toBe(Rcode.FORMERR);
      expect(r.length).toBe(12);
      expect(r[2]! & 0x80).toBe(0x80);
      expect(r[2]! & 0x01).toBe(0x01); // RD kept
    }
    expect(reply(q.subarray(0, 20))[3]! & 0xf).toBe(Rcode.FORMERR);
    const badLabel = Buffer.from(q);
    badLabel[12] = 0x45;
    expect(reply(badLabel)[3]! & 0xf).toBe(Rcode.FORMERR);
    // a compression pointer loop in the question
    const loop = Buffer.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 102, 111, 111, 0xc0, 12, 0, 1, 0, 1]);
    expect(reply(loop)[3]! & 0xf).toBe(Rcode.FORMERR);
  });

  it('a question written with a backward pointer is read like its expansion', () => {
    // header + "svc" label then pointer back to it would be a loop; instead use a name pointing into itself legally
    const plain = query('svc1.testns.svc.cluster.local');
    const r = decodeMessage(reply(plain));
    expect(r.answers).toHaveLength(1);
  });

  it('BADVERS for EDNS version != 0, REFUSED for class CH, both with the question', () => {
    const q = query('svc1.testns.svc.cluster.local', 'A', { edns: 1232 });
    const v = Buffer.from(q);
    v[v.length - 5] = 1; // OPT version byte (then flags, rdlength)
    const r = decodeMessage(reply(v));
    expect(rcodeOf(r)).toBe(Rcode.BADVERS);
    expect(r.answers).toHaveLength(0);
    const ch = Buffer.from(query('version.bind', 'TXT'));
    ch.writeUInt16BE(3, ch.length - 2);
    const c = decodeMessage(reply(ch));
    expect(rcodeOf(c)).toBe(Rcode.REFUSED);
    expect(c.flags & 0x400).toBe(0);
    expect(c.questions[0]!.class).toBe(3);
  });

  it('EDNS: OPT echoed with the client size and DO bit', () => {
    const r = dnsPacket.decode(reply(query('svc1.testns.svc.cluster.local', 'A', { edns: 4096, do: true })));
    const opt = r.additionals!.find((x) => x.type === 'OPT') as dnsPacket.OptAnswer;
    expect(opt.udpPayloadSize).toBe(4096);
    expect(opt.flags! & dnsPacket.DNSSEC_OK).toBeTruthy();
    expect(r.answers).toHaveLength(1);
  });

  it('question echoed in its original case; ID echoed; independent decoder agrees', () => {
    const r = dnsPacket.decode(reply(query('SVC1.testNS.svc.cluster.LOCAL', 'A', { id: 777 })));
    expect(r.id).toBe(777);
    expect(r.questions![0]!.name).toBe('SVC1.testNS.svc.cluster.LOCAL');
    expect(r.answers![0]!.name).toBe('SVC1.testNS.svc.cluster.LOCAL');
    expect(r.flag_aa).toBe(true);
    expect(r.flag_rd).toBe(true);
    expect((r.answers![0] as dnsPacket.StringAnswer).data).toBe('10.96.0.11');
  });

  it('truncates UDP at 512 without EDNS, at the client size with it; never over TCP', () => {
    const name = 'big.testns.svc.cluster.local';
    const u = reply(query(name));
    expect(u.length).toBeLessThanOrEqual(512);
    const m = decodeMessage(u);
    expect(m.flags & 0x200).toBe(0x200);
    // 12 header + 34 question, 16 bytes per compressed A: 29 fit
    expect(m.answers).toHaveLength(29);
    const e = reply(query(name, 'A', { edns: 1232 }));
    expect(e.length).toBeLessThanOrEqual(1232);
    const me = decodeMessage(e);
    expect(me.answers.length).toBe(73);
    expect(me.additional.map((r) => r.type)).toEqual([RRType.OPT]);
    const t = decodeMessage(reply(query(name), 'tcp'));
    expect(t.flags & 0x200).toBe(0);
    expect(t.answers).toHaveLength(bigCount);
  });

  it('dig layout', () => {
    const text = formatDig(a.query('svc1.testns.svc.cluster.local', RRType.A));
    expect(text).toContain(';; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 0');
    expect(text).toContain(';; flags: qr aa rd; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 0');
    expect(text).toContain(';; QUESTION SECTION:\n;svc1.testns.svc.cluster.local.\t\tIN\tA');
    expect(text).toContain(';; ANSWER SECTION:\nsvc1.testns.svc.cluster.local.\t30\tIN\tA\t10.96.0.11');
    const nx = formatDig(a.query('nope.testns.svc.cluster.local', RRType.A));
    expect(nx).toContain('status: NXDOMAIN');
    expect(nx).toContain(
      ';; AUTHORITY SECTION:\ncluster.local.\t30\tIN\tSOA\tns.dns.cluster.local. hostmaster.cluster.local.',
    );
  });
});
