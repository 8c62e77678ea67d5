/**
 * Names as a container resolves them (libnetwork's embedded DNS, resolverIPSandbox 127.0.0.11):
 * on a user-defined network the daemon answers the names of containers attached to the same
 * network; on the default bridge there is no embedded DNS (resolv.conf is the host's), so a
 * container name does not resolve there.
 */
import type { IP } from '../../netmodel/addr.js';
import { lowerName, type Message } from '../../netmodel/dns/message.js';
import { Flag, Rcode, RRClass, RRType } from '../../netmodel/dns/wire-constants.js';
import { decodeMessage } from '../../netmodel/dns/wire-read.js';
import { encodeMessage } from '../../netmodel/dns/wire-write.js';
import type { DockerHostState } from './host.js';

export const EMBEDDED_DNS = '127.0.0.11';

export type NameAnswer =
  | { readonly ok: true; readonly ip: IP }
  | { readonly ok: false; readonly reason: string };

export function resolveContainerName(st: DockerHostState, from: string, name: string): NameAnswer {
  const me = st.plan.containers.find((c) => c.name === from);
  if (!me) return { ok: false, reason: `no container ${from}` };
  if (me.network.isDefault)
    return {
      ok: false,
      reason: `${from} is on the default bridge, which has no embedded DNS (its resolv.conf is the host's): "${name}" does not resolve; use a user-defined network`,
    };
  const target = st.plan.containers.find((c) => c.name === name);
  if (!target || target.network.name !== me.network.name)
    return {
      ok: false,
      reason: `the embedded DNS at ${EMBEDDED_DNS} answers only names on ${me.network.name} (${st.plan.containers
        .filter((c) => c.network.name === me.network.name)
        .map((c) => c.name)
        .join(', ')}); "${name}" is not one of them (NXDOMAIN from the upstream servers)`,
    };
  return { ok: true, ip: target.ip };
}

/** libnetwork's resolver answers its own names with this TTL (respTTL, seconds). */
export const EMBEDDED_DNS_TTL = 600;

/**
 * The embedded DNS's reply to one query (wire bytes) from container `from` (undefined: a process
 * on the host, which real Docker never lets ask; kpath answers it from every user-defined network).
 * A and AAAA questions for a container name, or NAME.NETWORK, on the asker's network are answered
 * (AAAA: no data, the networks are IPv4); other names get NXDOMAIN, as the upstream servers
 * would say for a name that does not exist (kpath forwards nothing). `mapAddress` turns a model
 * address into what the reply carries (the live runtime gives loopback twins). Undefined: the
 * bytes are not a query (dropped, as the resolver drops them).
 */
export function embeddedDnsReply(
  st: DockerHostState,
  from: string | undefined,
  query: Uint8Array,
  mapAddress: (ip: IP) => string = (ip) => ip.text,
): Uint8Array | undefined {
  let q: Message;
  try {
    q = decodeMessage(query);
  } catch {
    return undefined;
  }
  if (q.flags & Flag.QR || q.questions.length !== 1) return undefined;
  const question = q.questions[0]!;
  const me = from ? st.plan.containers.find((c) => c.name === from) : undefined;
  const visible = st.plan.containers.filter((c) =>
    me ? !me.network.isDefault && c.network.name === me.network.name : !c.network.isDefault,
  );
  const name = lowerName(question.name).replace(/\.$/, '');
  const hit = visible.find(
    (c) => name === c.name.toLowerCase() || name === `${c.name}.${c.network.name}`.toLowerCase(),
  );
  const answers =
    hit && question.type === RRType.A && question.class === RRClass.IN
      ? [
          {
            name: question.name,
            type: RRType.A,
            class: RRClass.IN,
            ttl: EMBEDDED_DNS_TTL,
            data: { kind: 'address' as const, ip: mapAddress(hit.ip) },
          },
        ]
      : [];
  const rcode = hit ? Rcode.NOERROR : Rcode.NXDOMAIN;
  return encodeMessage({
    id: q.id,
    flags: Flag.QR | (q.flags & Flag.RD) | Flag.RA | rcode,
    questions: [question],
    answers,
    authority: [],
    additional: [],
  }).bytes;
}
