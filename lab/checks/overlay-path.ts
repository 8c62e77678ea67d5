/**
 * `kind: overlay-path`: one full-size packet through the EMULATED datapath, the walk `kpath trace`
 * shows (pod eth0, cni0, the overlay device and its encapsulation, the uplink, the other node, back).
 * For what real loopback traffic cannot show: loopback sockets have a 64 KiB MTU, so an overlay's
 * MTU never limits a real transfer under `kpath up`. Labs that use this kind say so in their TASK.
 *
 *   - name: a full-size segment reaches store
 *     kind: overlay-path
 *     from: pod/NS/NAME
 *     to: svc/NS/NAME[:PORT] | pod/NS/NAME:PORT
 *     size: mss | N          # TCP payload bytes; mss (default): the source pod's interface MTU - 40,
 *                            # the largest segment the pod's TCP sends (the MSS it announces)
 *     expect: {delivered: true | false}
 */
import { podMtu } from '../../cni/index.js';
import { computeTrace } from '../../proxy/trace-compute.js';
import { arrivalText } from '../../proxy/trace-follow.js';
import type { CheckEnv, CheckKind, Verdict } from './types.js';
import { fieldError, onlyKeys, optObject, reqString } from './types.js';

/** IPv4 and TCP headers without options: MSS = MTU - 40 (tcp_mss, as the walker announces it). */
const TCP_IP_HEADERS = 40;

export interface OverlayPathSpec {
  readonly from: string;
  readonly to: string;
  readonly size: 'mss' | number;
  readonly expect: { readonly delivered: boolean };
}

export interface OverlayPathObserved {
  readonly payload: number;
  readonly mtu: number;
  /** Where the packet ended: `pod NS/NAME on NODE`, or the reason it stopped. */
  readonly arrival: string;
  readonly delivered: boolean;
  readonly error?: string;
}

function parse(raw: Readonly<Record<string, unknown>>, where: string): OverlayPathSpec {
  onlyKeys(raw, ['name', 'kind', 'from', 'to', 'size', 'expect'], where);
  const from = reqString(raw, 'from', where);
  if (!/^pod\/[^/]+\/[^/]+$/.test(from)) throw fieldError(where, 'from', 'pod/NAMESPACE/NAME');
  const to = reqString(raw, 'to', where);
  const size = raw.size ?? 'mss';
  if (size !== 'mss' && (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > 65000))
    throw fieldError(where, 'size', 'mss, or a payload size in bytes from 1 to 65000');
  const e = optObject(raw, 'expect', where);
  onlyKeys(e, ['delivered'], `${where}: expect`);
  if (typeof e.delivered !== 'boolean') throw fieldError(where, 'expect.delivered', 'true or false');
  return { from, to, size, expect: { delivered: e.delivered } };
}

async function observe(env: CheckEnv, spec: OverlayPathSpec): Promise<OverlayPathObserved> {
  const mtu = podMtu(env.snap.config.network);
  const payload = spec.size === 'mss' ? mtu - TCP_IP_HEADERS : spec.size;
  try {
    const t = computeTrace({
      snapshot: env.snap,
      from: spec.from,
      to: spec.to,
      proto: 'tcp',
      size: payload,
      all: false,
      follow: true,
    });
    const there = t.outcomes[0]?.journey?.there;
    if (!there) return { payload, mtu, arrival: `not followed past ${t.nodeName}`, delivered: false };
    const a = there.arrival;
    return { payload, mtu, arrival: arrivalText(a), delivered: a.kind === 'pod' };
  } catch (e) {
    return { payload, mtu, arrival: '', delivered: false, error: (e as Error).message };
  }
}

function judge(spec: OverlayPathSpec, o: OverlayPathObserved): Verdict {
  if (o.error) return { passed: false, detail: o.error };
  const what = `a TCP segment with ${o.payload} bytes of payload (${o.payload + TCP_IP_HEADERS} bytes on the wire; the pods' MTU is ${o.mtu}) from ${spec.from} to ${spec.to}`;
  if (o.delivered === spec.expect.delivered)
    return { passed: true, detail: `${what}: ${o.arrival} (emulated datapath)` };
  return {
    passed: false,
    detail: `${what}: ${o.arrival}; expected it to ${spec.expect.delivered ? 'arrive' : 'be stopped'} (emulated datapath)`,
  };
}

export const overlayPath: CheckKind<OverlayPathSpec, OverlayPathObserved> = { parse, observe, judge };
