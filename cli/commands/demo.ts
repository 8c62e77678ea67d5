/**
 * `kpath demo`: the bundled cluster, run for real in this process (cli/demo/manifests.ts gives it
 * loopback addresses of its own), then real requests through a ClusterIP service, a NodePort, a
 * ClientIP-affinity service and kube-dns, each printed with where it went (pod, node, the client
 * address the pod saw), and the trace of one of them: the same packet through the emulated kernel
 * that decided it. Stops everything and exits 0 when every request got its answer.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Argv } from 'yargs';
import { parseIP } from '../../netmodel/addr.js';
import type { ClusterSnapshot } from '../../netmodel/cluster/index.js';
import { isKpathError } from '../../netmodel/errors.js';
import { TwinMap } from '../../netmodel/twins.js';
import { mayBindPrivileged, startIsolated } from '../../proxy/isolated/index.js';
import { exampleClusterPath, readManifestSources } from '../../proxy/manifest-files.js';
import {
  type ClientSource,
  describeSeen,
  type EchoIdentity,
  httpRequest,
  parseEcho,
  parseSource,
  resolveHost,
} from '../client/index.js';
import { demoNodePort, demoSlots, EXTERNAL_CLIENT, PORT_SHIFT, PRIVILEGED_BELOW } from '../demo/index.js';
import { bufferIO, type CliIO, EXIT } from '../io.js';
import { run as traceRun } from './trace.js';

export const command = 'demo';
export const describe =
  'run the bundled cluster for real and show where requests go: ClusterIP, NodePort, session affinity, DNS';

export function builder(y: Argv) {
  return y
    .option('requests', { type: 'number', default: 3, description: 'requests per service' })
    .option('shift-ports', {
      type: 'boolean',
      description: `move ports below ${PRIVILEGED_BELOW} up by ${PORT_SHIFT} (default: only when this process may not bind them)`,
    })
    .option('trace', {
      type: 'boolean',
      default: true,
      description: 'print the trace of the first request (--no-trace: leave it out)',
    });
}

interface DemoArgs {
  requests: number;
  shiftPorts?: boolean;
  trace: boolean;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ host: '127.0.0.1', port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

async function pickNodePort(): Promise<number> {
  if (await portFree(30080)) return 30080;
  for (let p = 30081; p <= 32767; p++) if (await portFree(p)) return p;
  return 30080;
}

/** Start the bundled cluster on the first free demo slot (proxy/isolated). */
async function start(
  shiftPorts: boolean,
): Promise<{ snap: ClusterSnapshot; stop: () => Promise<void>; dir: string }> {
  const nodePort = await pickNodePort();
  const run = await startIsolated({
    sources: readManifestSources([exampleClusterPath()]),
    slots: demoSlots(),
    shiftPorts,
    nodePort: demoNodePort({ nodePort }),
    rename: (file) => `<demo>/${file.split('/').pop()}`,
    runtime: { seed: 7, logger: pino({ level: 'silent' }) },
  });
  const dir = mkdtempSync(join(tmpdir(), 'kpath-demo-'));
  for (const s of run.sources) writeFileSync(join(dir, s.file.split('/').pop()!), s.text);
  return { snap: run.snap, stop: run.stop, dir };
}

interface Hit {
  readonly echo: EchoIdentity;
  readonly local: string;
}

async function get(
  src: ClientSource,
  twins: TwinMap,
  modelIP: string,
  port: number,
  host: string,
): Promise<Hit> {
  const res = await httpRequest({
    host: twins.toLoopback(parseIP(modelIP))!.text,
    port,
    bind: src.bind,
    method: 'GET',
    path: '/',
    hostHeader: host,
    headers: [],
    timeoutMs: 3000,
  });
  const echo = parseEcho(res.body.toString('utf8'));
  if (!echo)
    throw new Error(`${host}: not the echo server's answer: ${res.body.toString('utf8').slice(0, 200)}`);
  return { echo, local: res.local };
}

export async function run(args: DemoArgs, io: CliIO): Promise<number> {
  const shiftPorts = args.shiftPorts ?? !mayBindPrivileged();
  const { snap, stop, dir } = await start(shiftPorts);
  const twins = new TwinMap(snap.config.loopbackMap);
  const out = (t = '') => io.out(`${t}\n`);
  try {
    const web = snap.service('default', 'web')!;
    const np = snap.service('default', 'web-nodeport')!;
    const cart = snap.service('shop', 'cart')!;
    const webPort = web.ports[0]!.port;
    const cartPort = cart.ports[0]!.port;
    const nodePort = np.ports[0]!.nodePort!;
    const client = parseSource('pod/default/client', snap, twins);
    const outside = parseSource(`external/${EXTERNAL_CLIENT}`, snap, twins);
    const worker1 = snap.node('worker-1')!.internalIPs[0]!.text;
    const pod = (h: Hit) => `pod ${h.echo.namespace}/${h.echo.pod} (${h.echo.podIP}) on ${h.echo.node}`;
    const seen = (h: Hit, src: ClientSource) =>
      `saw the client as ${describeSeen(h.echo.client, src.model ? { model: src.model.text } : {}, snap)}`;

    out('kpath demo: the bundled cluster (examples/demo), running for real on loopback in this process');
    out(
      `  its own loopback addresses: ${snap.config.loopbackMap.map((m) => `${m.model.text} -> ${m.loopback.text}`).join(', ')}`,
    );
    if (shiftPorts)
      out(
        `  not allowed to bind ports below ${PRIVILEGED_BELOW}: they moved up by ${PORT_SHIFT} (web ${webPort}, kube-dns ${snap.service('kube-system', 'kube-dns')?.ports[0]?.port})`,
      );
    if (nodePort !== 30080) out(`  127.0.0.1:30080 is taken here: web-nodeport uses node port ${nodePort}`);
    out();

    // DNS: the client pod's resolver, through the kube-dns service to a DNS pod.
    const dns = await resolveHost('web', client, snap, twins);
    out(`DNS        pod default/client resolves "web" with its search path (${dns.search[0]} first)`);
    out(
      `           kube-dns ${dns.server} (real UDP to ${dns.serverLoopback}): ${dns.resolvedName} A ${dns.address}`,
    );
    out();

    out(
      `ClusterIP  GET http://web:${webPort}/ from pod default/client (${client.model!.text}), ${web.meta.namespace}/${web.meta.name} at ${dns.address}:${webPort}`,
    );
    const hits: Hit[] = [];
    for (let i = 1; i <= args.requests; i++) {
      const h = await get(client, twins, dns.address!, webPort, 'web');
      hits.push(h);
      out(`  #${i}  -> ${pod(h)}, ${seen(h, client)}`);
    }
    out();

    out(
      `NodePort   GET http://${worker1}:${nodePort}/ (worker-1's node port, externalTrafficPolicy: ${np.externalTrafficPolicy}) from ${EXTERNAL_CLIENT} outside the cluster`,
    );
    for (let i = 1; i <= args.requests; i++) {
      const h = await get(outside, twins, worker1, nodePort, `${worker1}:${nodePort}`);
      out(`  #${i}  -> ${pod(h)}, ${seen(h, outside)}`);
    }
    out();

    const cartIP = cart.clusterIPs[0]!.text;
    out(
      `Affinity   GET http://cart.shop:${cartPort}/ from pod default/client: sessionAffinity ${cart.sessionAffinity} (${cart.affinityTimeoutSeconds}s), ${cart.meta.namespace}/${cart.meta.name} at ${cartIP}`,
    );
    for (let i = 1; i <= args.requests; i++) {
      const h = await get(client, twins, cartIP, cartPort, `cart.shop:${cartPort}`);
      out(`  #${i}  -> ${pod(h)}, ${seen(h, client)}`);
    }
    out();

    if (args.trace) {
      const first = hits[0]!.echo;
      const t = await traceFor(dir, `${first.podIP}:${first.port}`, webPort);
      out(
        `Why ClusterIP request #1 reached ${first.pod}: the same packet through worker-1's emulated kernel`,
      );
      out(
        `  (kpath trace --from pod/default/client --to svc/default/web:${webPort}${t.seed ? ` --seed ${t.seed}` : ''})`,
      );
      out();
      io.out(t.text.replace(/^/gm, '  ').replace(/ +$/gm, ''));
    }
    out('Every request above was a real TCP connection or UDP datagram on loopback; the demo has stopped.');
    return EXIT.OK;
  } catch (e) {
    io.err(`kpath demo: ${isKpathError(e) || e instanceof Error ? e.message : String(e)}\n`);
    return EXIT.FAILURE;
  } finally {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The text trace whose random choice picks the endpoint the real request reached (seeds 1..200). */
async function traceFor(
  dir: string,
  endpoint: string,
  port: number,
): Promise<{ text: string; seed?: number }> {
  const base = {
    f: [dir],
    from: 'pod/default/client',
    to: `svc/default/web:${port}`,
    all: false,
    follow: true,
  };
  for (let seed = 1; seed <= 200; seed++) {
    const io = bufferIO();
    await traceRun({ ...base, seed, output: 'json' } as never, io);
    const j = JSON.parse(io.stdout()) as { outcomes?: { dnat?: string | null }[] };
    if (j.outcomes?.[0]?.dnat === endpoint) {
      const text = bufferIO();
      await traceRun({ ...base, seed, output: 'text' } as never, text);
      return { text: text.stdout(), seed };
    }
  }
  const io = bufferIO();
  await traceRun({ ...base, all: true, output: 'text' } as never, io);
  return { text: io.stdout() };
}
