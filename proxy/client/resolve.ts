/**
 * Name resolution as a pod does it: the search path kubelet writes into a ClusterFirst pod's
 * resolv.conf (netmodel/dns podResolvConf), each candidate asked for an A record over real UDP from
 * the client's own twin to kube-dns's service twin, which the running proxy forwards to a DNS pod.
 */
import { createSocket } from 'node:dgram';
import { parseIP, tryParseIP } from '../../netmodel/addr.js';
import type { ClusterSnapshot } from '../../netmodel/cluster/index.js';
import {
  buildZone,
  createAnswerer,
  decodeMessage,
  dnsViewOf,
  encodeMessage,
  Flag,
  kubeDnsAddresses,
  podResolvConf,
  podResolvConfOf,
  RRClass,
  RRType,
  rcodeName,
  rcodeOf,
  resolveFromPod,
  searchCandidates,
  zoneOptionsOf,
} from '../../netmodel/dns/index.js';
import { ErrorCodes, KpathError } from '../../netmodel/errors.js';
import type { TwinMap } from '../../netmodel/twins.js';
import type { ClientSource } from './source.js';

export interface DnsStep {
  readonly name: string;
  readonly rcode: string;
  readonly answers: readonly string[];
}

export interface Resolution {
  /** The kube-dns service address asked (model) and its twin:port that was really dialled. */
  readonly server: string;
  readonly serverLoopback: string;
  readonly search: readonly string[];
  readonly steps: readonly DnsStep[];
  /** The model address found, and the name that gave it. */
  readonly address?: string;
  readonly resolvedName?: string;
  /** True when the cluster has no kube-dns service and the name was answered from the model. */
  readonly fromModel?: boolean;
}

/** kube-dns's UDP port (53 unless the cluster moved it). */
export function dnsPort(snap: ClusterSnapshot): number {
  const svc = snap.service('kube-system', 'kube-dns');
  return svc?.ports.find((p) => p.protocol === 'UDP')?.port ?? 53;
}

/** One A query over UDP; resolves with the reply or rejects on timeout. */
export function queryA(
  name: string,
  server: { host: string; port: number },
  bind: string,
  timeoutMs: number,
  id: number,
): Promise<ReturnType<typeof decodeMessage>> {
  return query(name, RRType.A, server, bind, timeoutMs, id);
}

/** One query of any type over UDP, from `bind` (a loopback twin); the reply or a rejection on timeout. */
export function query(
  name: string,
  type: number,
  server: { host: string; port: number },
  bind: string,
  timeoutMs: number,
  id: number,
): Promise<ReturnType<typeof decodeMessage>> {
  const q = encodeMessage({
    id,
    flags: Flag.RD,
    questions: [{ name, type, class: RRClass.IN }],
    answers: [],
    authority: [],
    additional: [],
  });
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(
        new KpathError(
          ErrorCodes.NOT_FOUND,
          `no DNS answer from ${server.host}:${server.port} in ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    sock.on('error', (e) => {
      clearTimeout(timer);
      sock.close();
      reject(e);
    });
    sock.on('message', (msg) => {
      clearTimeout(timer);
      sock.close();
      try {
        resolve(decodeMessage(new Uint8Array(msg)));
      } catch (e) {
        reject(e);
      }
    });
    sock.bind({ address: bind, port: 0 }, () => {
      sock.send(q.bytes, server.port, server.host);
    });
  });
}

/** Resolve `host` from the source through the cluster's real DNS. An IP is returned as is. */
export async function resolveHost(
  host: string,
  src: ClientSource,
  snap: ClusterSnapshot,
  twins: TwinMap,
  timeoutMs = 2000,
): Promise<Resolution> {
  const nameservers = kubeDnsAddresses(snap);
  const pod = src.kind === 'pod' ? snap.pod(src.namespace, src.label.split('/')[2] ?? '') : undefined;
  const conf = pod
    ? podResolvConfOf(snap, pod)
    : podResolvConf({ namespace: src.namespace, domain: snap.config.domain, nameservers });
  if (tryParseIP(host))
    return { server: '', serverLoopback: '', search: conf.search, steps: [], address: host };
  const server = nameservers[0];
  if (!server) return fromModel(host, src, snap);
  const twin = twins.toLoopback(parseIP(server));
  if (!twin) throw new KpathError(ErrorCodes.NOT_FOUND, `kube-dns ${server} has no loopback twin`);
  const port = dnsPort(snap);
  const steps: DnsStep[] = [];
  let id = 0x4b50;
  for (const cand of searchCandidates(host, conf)) {
    const reply = await queryA(cand, { host: twin.text, port }, src.bind, timeoutMs, id++);
    const answers = reply.answers.flatMap((a) =>
      a.type === RRType.A && a.data.kind === 'address' ? [a.data.ip] : [],
    );
    steps.push({ name: cand, rcode: rcodeName(rcodeOf(reply)), answers });
    if (answers.length) {
      // The server may answer with twins (kpath up --dns-twins); report the model address.
      const first = parseIP(answers[0]!);
      const model =
        first.family === 4 && first.n >>> 24 === 127
          ? (twins.toModel(first)?.text ?? first.text)
          : first.text;
      return {
        server,
        serverLoopback: `${twin.text}:${port}`,
        search: conf.search,
        steps,
        address: model,
        resolvedName: cand,
      };
    }
  }
  return { server, serverLoopback: `${twin.text}:${port}`, search: conf.search, steps };
}

/** No kube-dns service to ask: the answers its zone would give, with the same search path. */
function fromModel(host: string, src: ClientSource, snap: ClusterSnapshot): Resolution {
  const conf = podResolvConf({ namespace: src.namespace, domain: snap.config.domain, nameservers: [] });
  const answerer = createAnswerer(buildZone(dnsViewOf(snap), zoneOptionsOf(snap)));
  const r = resolveFromPod(answerer, host, conf);
  const steps = r.queries
    .filter((q) => q.type === 'A')
    .map((q) => ({
      name: q.name,
      rcode: q.rcode,
      answers: q.reply.answers.flatMap((a) =>
        a.type === RRType.A && a.data.kind === 'address' ? [a.data.ip] : [],
      ),
    }));
  const hit = steps.find((s) => s.answers.length);
  return {
    server: '(the cluster model: no kube-system/kube-dns service)',
    serverLoopback: '-',
    search: conf.search,
    steps,
    fromModel: true,
    ...(hit ? { address: hit.answers[0]!, resolvedName: hit.name } : {}),
  };
}
