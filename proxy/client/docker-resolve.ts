/**
 * Name resolution as a container on a user-defined Docker network does it: resolv.conf says
 * `nameserver 127.0.0.11` with `options ndots:0` and no search path, so the name is asked as it is,
 * over real UDP from the container's twin to the embedded DNS `kpath up` serves there.
 */
import { parseIP } from '../../netmodel/addr.js';
import { RRType, rcodeName, rcodeOf } from '../../netmodel/dns/index.js';
import type { TwinMap } from '../../netmodel/twins.js';
import { queryA, type Resolution } from './resolve.js';
import type { ClientSource } from './source.js';

export const EMBEDDED_DNS_ADDRESS = { host: '127.0.0.11', port: 53 } as const;

export async function resolveFromContainer(
  host: string,
  src: ClientSource,
  twins: TwinMap,
  timeoutMs: number,
): Promise<Resolution> {
  const server = `${EMBEDDED_DNS_ADDRESS.host}:${EMBEDDED_DNS_ADDRESS.port}`;
  const reply = await queryA(host, EMBEDDED_DNS_ADDRESS, src.bind, timeoutMs, 0x4b50);
  const answers = reply.answers.flatMap((a) =>
    a.type === RRType.A && a.data.kind === 'address' ? [a.data.ip] : [],
  );
  const steps = [{ name: host, rcode: rcodeName(rcodeOf(reply)), answers }];
  const base = { server, serverLoopback: server, search: [], steps };
  if (!answers.length) return base;
  // The embedded DNS of kpath up answers twins; report the model address.
  const first = parseIP(answers[0]!);
  const model = twins.toModel(first)?.text ?? first.text;
  return { ...base, address: model, resolvedName: host };
}
