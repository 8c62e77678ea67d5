/** Turning a real client address into the model flow a ProxyMode decides on. */
import { type IP, tryParseIP } from '../../netmodel/addr.js';
import type { ForwardContext, ListenerTarget } from './forward-context.js';
import type { FlowRequest } from './modes/types.js';

/** Client address text -> parsed (the same few clients connect again and again). */
const parsed = new Map<string, IP | null>();
const PARSED_MAX = 4096;

function parseClient(text: string): IP | undefined {
  let ip = parsed.get(text);
  if (ip === undefined) {
    ip = tryParseIP(text.startsWith('::ffff:') ? text.slice(7) : text) ?? null;
    if (parsed.size >= PARSED_MAX) parsed.clear();
    parsed.set(text, ip);
  }
  return ip ?? undefined;
}

export function flowFor(
  ctx: ForwardContext,
  t: ListenerTarget,
  remoteAddress: string | undefined,
  remotePort: number | undefined,
): FlowRequest | undefined {
  const real = remoteAddress ? parseClient(remoteAddress) : undefined;
  if (!real) return undefined;
  const model: IP | undefined = ctx.twins().toModel(real);
  const clientNode = model ? ctx.nodeOf(model) : undefined;
  const entryNode = t.entryNode ?? clientNode ?? ctx.defaultNode();
  // A NodePort dialled on 127.0.0.1 is the entry node's own node port.
  const nodeIP = t.entry === 'NodePort' && !t.entryNode ? ctx.nodeIP(entryNode) : undefined;
  if (nodeIP) t = { ...t, destination: { ip: nodeIP, port: t.destination.port } };
  if (!model) {
    // 127.0.0.1 and unmapped loopback addresses are a process on the entry node.
    const ip = ctx.nodeIP(entryNode);
    if (!ip) return undefined;
    return {
      protocol: t.protocol,
      client: { ip, port: remotePort ?? 0 },
      clientIsNodeProcess: true,
      destination: t.destination,
      entryNode,
      entry: t.entry,
      servicePort: t.servicePort,
    };
  }
  return {
    protocol: t.protocol,
    client: { ip: model, port: remotePort ?? 0 },
    clientIsNodeProcess: false,
    destination: t.destination,
    entryNode,
    entry: t.entry,
    servicePort: t.servicePort,
  };
}
