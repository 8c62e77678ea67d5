#!/usr/bin/env node
/**
 * The runtime's own JavaScript per proxied TCP connection, without sockets or syscalls: the native
 * path of proxy/runtime/forward-tcp.ts (accept callback, flow, live conntrack entry, mode.decide
 * through the policy gate, the native dial's result, relayStart, the relay's end, metrics) in
 * userspace mode on bench/proxy's cluster, with the native addon replaced by a stand-in that answers
 * at once (bench/proxy-js/fake-native.mjs). 32 connections are open at a time, as wrk -c 32 keeps.
 *
 *   npm run build && node bench/proxy-js.mjs [--dist dist] [--vs DIR] [--n 200000] [--rounds 5]
 *                                            [--mode userspace|iptables]
 *
 * --mode iptables adds the emulated kernel's walks (decide and closed, as bench/proxy-decide.mjs
 * measures them alone) to the same runtime path.
 *
 * --vs DIR: a second build (e.g. the branch's base: `tsc -p tsconfig.build.json --outDir DIR`, with
 * package.json {"type":"module"} and node_modules beside it), rounds interleaved. Each round is its
 * own process. Prints CPU us per connection (process.cpuUsage, user + system), median over rounds.
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliOptions, REPO } from './lib.mjs';
import { benchServices, clusterHead } from './proxy/cluster-head.mjs';

const { opt, flag } = cliOptions();
const N = Number(opt('n', 200_000));

if (flag('child')) {
  const dist = resolve(opt('dist', `${REPO}/dist`));
  const { register } = await import('node:module');
  register('./proxy-js/hooks.mjs', import.meta.url);
  const { fake } = await import('./proxy-js/fake-native.mjs');
  const fwd = await import(`${dist}/proxy/runtime/forward-tcp.js`);
  const { buildCluster } = await import(`${dist}/netmodel/cluster/index.js`);
  const { SeededRng } = await import(`${dist}/netmodel/rng.js`);
  const { parseIP } = await import(`${dist}/netmodel/addr.js`);
  const { TwinMap } = await import(`${dist}/netmodel/twins.js`);
  const { UserspaceMode } = await import(`${dist}/proxy/runtime/modes/userspace.js`);
  const { IptablesMode } = await import(`${dist}/proxy/runtime/modes/iptables.js`);
  const modeName = opt('mode', 'userspace');
  const { PolicyGate } = await import(`${dist}/proxy/runtime/policy-gate.js`);
  const { LiveConntrack } = await import(`${dist}/proxy/runtime/conntrack.js`);
  const { RuntimeMetrics } = await import(`${dist}/proxy/runtime/metrics.js`);
  const { RUNTIME_DEFAULTS } = await import(`${dist}/proxy/runtime/runtime.js`);
  const pino = (await import('pino')).default;

  const b = buildCluster([{ file: 'bench.yaml', text: clusterHead(modeName) + benchServices(1) }]);
  if (!b.ok) throw new Error(JSON.stringify(b.diagnostics));
  const snap = b.snapshot;
  const clock = { now: () => Date.now() };
  const log = pino({ level: 'info' }, { write() {} });
  const metrics = new RuntimeMetrics();
  const rng = new SeededRng(1);
  const inner =
    modeName === 'userspace' ? new UserspaceMode({ clock, rng }) : new IptablesMode({ clock, rng });
  const mode = new PolicyGate({ reject: false, clock, metrics, log }).wrap(inner);
  mode.sync(snap);
  const twins = new TwinMap([...snap.config.loopbackMap]);
  const nodeIP = snap.node('node-a').internalIPs.find((x) => x.family === 4);
  const ctx = {
    mode: () => mode,
    twins: () => twins,
    nodeOf: () => undefined,
    nodeIP: () => nodeIP,
    defaultNode: () => 'node-a',
    conntrack: new LiveConntrack(clock),
    metrics,
    log,
    clock,
    limits: RUNTIME_DEFAULTS.limits,
    // SlotSet since session 7's review (OpenSet before it; a Set in older builds).
    open: await import(`${dist}/proxy/runtime/slot-set.js`)
      .then((m) => new m.SlotSet())
      .catch(() =>
        import(`${dist}/proxy/runtime/open-set.js`).then((m) => new m.OpenSet()).catch(() => new Set()),
      ),
  };
  const target = {
    servicePort: 'default/web0:p',
    protocol: 'TCP',
    destination: { ip: parseIP('10.96.0.80'), port: 80 },
    entry: 'ClusterIP',
  };
  let port = 32768;
  const BATCH = 32;
  const run = (n) => {
    for (let i = 0; i < n; i += BATCH) {
      for (let j = 0; j < BATCH; j++) {
        port = port >= 60999 ? 32768 : port + 1;
        fwd.handleTcpFd(ctx, target, 7, '127.0.0.1', port);
      }
      const tokens = fake.tokens.splice(0);
      for (const t of tokens) fake.onClosed(t, 'closed', 78, 853, 4, 3);
      // The runtime's housekeeping (every 5 s): the emulated conntrack's gc.
      if ((i & 8191) === 0) mode.housekeeping?.(clock.now());
    }
  };
  run(50_000);
  if (ctx.open.size !== 0 || fake.starts < 50_000) throw new Error(`not relayed: ${fake.starts}`);
  const t0 = process.cpuUsage();
  run(N);
  const t = process.cpuUsage(t0);
  // Every connection went the whole way: relayed, out of the live table, counted, ageing out.
  const listed = ctx.conntrack.listAll();
  const counted = metrics.endpointAt('default/web0:p', '10.244.1.10', 8080, 'TCP');
  if (
    ctx.conntrack.size !== 0 ||
    ctx.open.size !== 0 ||
    listed.length === 0 ||
    listed[0].state !== 'TIME_WAIT'
  )
    throw new Error('connections did not end as they should');
  if (counted.closed < fake.starts) throw new Error(`metrics counted ${counted.closed} of ${fake.starts}`);
  console.log(JSON.stringify({ us: (t.user + t.system) / N, segsOff: fake.segsOff > 0 }));
  process.exit(0);
}

const rounds = Number(opt('rounds', 5));
const builds = [resolve(opt('dist', `${REPO}/dist`))];
const vs = opt('vs', '');
if (vs) builds.push(resolve(vs));
const self = fileURLToPath(import.meta.url);
const results = builds.map(() => []);
for (let r = 0; r < rounds; r++) {
  for (const [i, d] of builds.entries()) {
    const args = [self, '--child', '--dist', d, '--n', String(N), '--mode', opt('mode', 'userspace')];
    const out = execFileSync(process.execPath, args, {
      encoding: 'utf8',
    });
    results[i].push(JSON.parse(out.trim().split('\n').pop()));
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const [i, d] of builds.entries()) {
  const us = results[i].map((x) => x.us);
  console.log(
    `${d}: ${median(us).toFixed(2)} us CPU per connection (rounds ${us.map((x) => x.toFixed(2)).join(' / ')})` +
      (results[i][0].segsOff ? ', relay told segs=false' : ''),
  );
}
if (builds.length === 2) {
  const a = median(results[0].map((x) => x.us));
  const b = median(results[1].map((x) => x.us));
  console.log(`ratio ${builds[0]} / ${builds[1]}: ${(a / b).toFixed(3)}`);
}
