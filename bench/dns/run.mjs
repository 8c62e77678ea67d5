#!/usr/bin/env node
/**
 * DNS benchmark: kpath's kube-dns server vs unbound (local-data) vs dnsmasq (host-record), same
 * 1,000-service zone, same dnsperf query file, in one run.
 *
 *   node bench/dns/run.mjs [--rounds 3] [--duration 10] [--clients 4] [--outstanding 100]
 *                          [--queries 10000] [--server-cpu 1] [--client-cpu 0] [--dist DIR]
 *                          [--out FILE.json] [--keep] [--cpu-prof] [--only kpath,kpath-dgram,unbound,dnsmasq]
 *                          [--warmup 2] [--quiet-wait 30]
 *
 * Steps:
 *   1. compile the TypeScript (tsc -p tsconfig.build.json) into a temp dir (or use --dist, e.g. dist/
 *      after `npm run build`); the repo's dist/ is not touched;
 *   2. generate manifests: 10 namespaces, 1,000 services svc-NNNN.ns-NN (900 ClusterIP, 100 headless
 *      with 1-3 ready pod endpoints each, pods spread over 4 nodes);
 *   3. build the snapshot with kpath's own pipeline (buildCluster) and read the expected A records
 *      off it (ClusterIP -> its cluster IP, headless -> its ready endpoint addresses);
 *   4. write the same records as unbound `local-data:` and dnsmasq `host-record=` (TTL 30, kpath's
 *      zone TTL), and a dnsperf query file of N random `name A` lines (seeded, reproducible);
 *   5. start kpath (bench/dns/kpath-server.mjs: one Node process), unbound (num-threads: 1) and
 *      dnsmasq (one process) on 127.0.0.2/3/4, all pinned to --server-cpu with taskset;
 *   6. verify with `dig -f` that all three answer every name NOERROR with the same TTL and the
 *      same (sorted) A set as the snapshot; abort otherwise;
 *   7. warm up each server (2 s, discarded), then --rounds rounds, each running dnsperf (pinned to
 *      --client-cpu) against every server in a rotated order; reports the median per server and
 *      the ratios, plus server CPU use during each run (from /proc/<pid>/stat). Before each run it
 *      waits (up to --quiet-wait s) for the server core to be quiet, since the machine is shared;
 *      the CPU time per answered query (and its inverse, q/s per busy core) is the figure least
 *      disturbed by other load, and is reported next to the raw queries/s.
 *
 * Network: every socket is on 127.0.0.0/8. unbound has `local-zone: "." refuse` and no forwarders;
 * dnsmasq runs with --no-resolv, no servers, `local=/cluster.local/`. Nothing can leave the host.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cliOptions, kpathDist } from '../lib.mjs';

// ---------------------------------------------------------------- options
const HERE = dirname(fileURLToPath(import.meta.url));
const { opt, flag } = cliOptions();
const O = {
  rounds: Number(opt('rounds', 3)),
  duration: Number(opt('duration', 10)),
  clients: Number(opt('clients', 4)),
  outstanding: Number(opt('outstanding', 100)),
  queries: Number(opt('queries', 10_000)),
  serverCpu: opt('server-cpu', '1'),
  clientCpu: opt('client-cpu', '0'),
  dist: opt('dist', undefined),
  out: opt('out', undefined),
  keep: flag('keep'),
  cpuProf: flag('cpu-prof'),
  only: opt('only', 'kpath,kpath-dgram,unbound,dnsmasq').split(','),
  warmup: Number(opt('warmup', 2)),
  quietWait: Number(opt('quiet-wait', 30)),
};
const SERVICES = 1000;
const NAMESPACES = 10;
const NODES = 4;
const TTL = 30;
const DOMAIN = 'cluster.local';

const log = (...a) => console.error('[dns-bench]', ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const work = mkdtempSync(join(tmpdir(), 'kpath-dnsbench-'));
log(`work dir ${work}`);

// ---------------------------------------------------------------- 1. compile
const distDir = kpathDist(work, O.dist, log);
if (!existsSync(join(distDir, 'proxy/dns/server.js')))
  throw new Error(`no proxy/dns/server.js under ${distDir}`);

// ---------------------------------------------------------------- 2. manifests
const pad = (n, w) => String(n).padStart(w, '0');
const docs = [
  {
    apiVersion: 'kpath.dev/v1alpha1',
    kind: 'Cluster',
    metadata: { name: 'dns-bench' },
    spec: {
      domain: DOMAIN,
      podCIDR: '10.244.0.0/16',
      serviceCIDR: '10.96.0.0/12',
      dns: { pods: 'insecure', ttl: TTL },
    },
  },
];
for (let n = 0; n < NODES; n++) {
  docs.push({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: `node-${n}`, labels: { 'kubernetes.io/hostname': `node-${n}` } },
    spec: { podCIDR: `10.244.${n}.0/24` },
    status: { addresses: [{ type: 'InternalIP', address: `10.0.0.${11 + n}` }] },
  });
}
for (let n = 1; n <= NAMESPACES; n++)
  docs.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: `ns-${pad(n, 2)}` } });
let podCount = 0;
for (let i = 1; i <= SERVICES; i++) {
  const name = `svc-${pad(i, 4)}`;
  const namespace = `ns-${pad(((i - 1) % NAMESPACES) + 1, 2)}`;
  const headless = Math.floor((i - 1) / NAMESPACES) % 10 === 0; // 100 of 1,000, spread over namespaces
  docs.push({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: {
      ...(headless ? { clusterIP: 'None' } : {}),
      selector: { app: name },
      ports: [{ name: 'http', port: 80, targetPort: 8080 }],
    },
  });
  if (headless) {
    for (let k = 0; k < 1 + (i % 3); k++) {
      docs.push({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `${name}-${k}`, namespace, labels: { app: name } },
        spec: {
          nodeName: `node-${podCount++ % NODES}`,
          containers: [{ name: 'c', image: 'kpath/echo', ports: [{ containerPort: 8080 }] }],
        },
      });
    }
  }
}
const manifestPath = join(work, 'cluster.yaml');
writeFileSync(manifestPath, docs.map((d) => JSON.stringify(d)).join('\n---\n') + '\n');

// ---------------------------------------------------------------- 3. expected records
const { buildCluster } = await import(pathToFileURL(join(distDir, 'netmodel/cluster/index.js')).href);
const built = buildCluster([{ file: manifestPath, text: readFileSync(manifestPath, 'utf8') }]);
if (!built.ok)
  throw new Error(`cluster does not build:\n${built.diagnostics.map((d) => d.message).join('\n')}`);
const snap = built.snapshot;
/** fqdn (no trailing dot) -> sorted IPv4 list */
const records = new Map();
for (const s of snap.services) {
  if (!/^svc-\d{4}$/.test(s.meta.name)) continue;
  const fq = `${s.meta.name}.${s.meta.namespace}.svc.${DOMAIN}`;
  let ips;
  if (s.headless) {
    ips = snap
      .slicesFor(s)
      .flatMap((sl) =>
        sl.endpoints
          .filter((e) => e.conditions.ready !== false)
          .flatMap((e) => e.addresses.map((a) => a.text)),
      );
  } else ips = s.clusterIPs.map((ip) => ip.text);
  records.set(fq, [...new Set(ips)].filter((ip) => !ip.includes(':')).sort());
}
const names = [...records.keys()].sort();
const headlessCount = snap.services.filter((s) => s.headless).length;
const aRecords = [...records.values()].reduce((n, v) => n + v.length, 0);
if (names.length !== SERVICES || [...records.values()].some((v) => v.length === 0))
  throw new Error(`expected ${SERVICES} names with addresses, got ${names.length}`);
log(
  `zone: ${names.length} service names (${headlessCount} headless), ${aRecords} A records, ${podCount} pods`,
);

// ---------------------------------------------------------------- 4. peer configs + queries
let seed = 0x6b706174; // "kpat"
const rand = () => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const queryFile = join(work, 'queries.txt');
const qlines = [];
for (let i = 0; i < O.queries; i++) qlines.push(`${names[Math.floor(rand() * names.length)]} A`);
writeFileSync(queryFile, qlines.join('\n') + '\n');
const digFile = join(work, 'dig-names.txt');
writeFileSync(digFile, names.map((n) => `${n} A`).join('\n') + '\n');

const SERVERS = {
  kpath: { host: '127.0.0.2', port: 15353 },
  // the same server with the native batch socket turned off (KPATH_NATIVE=0): node:dgram
  'kpath-dgram': { host: '127.0.0.5', port: 15353 },
  unbound: { host: '127.0.0.3', port: 15353 },
  dnsmasq: { host: '127.0.0.4', port: 15353 },
};

const unboundConf = join(work, 'unbound.conf');
writeFileSync(
  unboundConf,
  [
    'server:',
    '  verbosity: 0',
    '  num-threads: 1',
    `  interface: ${SERVERS.unbound.host}@${SERVERS.unbound.port}`,
    `  port: ${SERVERS.unbound.port}`,
    '  do-ip4: yes',
    '  do-ip6: no',
    '  do-udp: yes',
    '  do-tcp: yes',
    '  do-daemonize: no',
    '  use-syslog: no',
    `  logfile: "${join(work, 'unbound.log')}"`,
    '  username: ""',
    '  chroot: ""',
    `  directory: "${work}"`,
    '  pidfile: ""',
    '  access-control: 127.0.0.0/8 allow',
    '  module-config: "iterator"',
    '  so-reuseport: no',
    // Nothing is ever resolved outside: the root is refused, the cluster zone is local data.
    '  local-zone: "." refuse',
    `  local-zone: "${DOMAIN}." static`,
    ...names.flatMap((n) => records.get(n).map((ip) => `  local-data: "${n}. ${TTL} IN A ${ip}"`)),
    'remote-control:',
    '  control-enable: no',
    '',
  ].join('\n'),
);

const dnsmasqConf = join(work, 'dnsmasq.conf');
writeFileSync(
  dnsmasqConf,
  [
    `port=${SERVERS.dnsmasq.port}`,
    `listen-address=${SERVERS.dnsmasq.host}`,
    'bind-interfaces',
    'no-resolv',
    'no-poll',
    'no-hosts',
    'no-negcache',
    `local=/${DOMAIN}/`,
    `local-ttl=${TTL}`,
    `log-facility=${join(work, 'dnsmasq.log')}`,
    'pid-file=',
    'user=root',
    ...names.flatMap((n) => records.get(n).map((ip) => `host-record=${n},${ip},${TTL}`)),
    '',
  ].join('\n'),
);

// ---------------------------------------------------------------- 5. start servers
const children = new Map();
const startServer = (name, cmd, argv, env = process.env) => {
  const full = ['-c', O.serverCpu, cmd, ...argv];
  log(`start ${name}: taskset ${full.join(' ')}`);
  const child = spawn('taskset', full, { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  child.on('exit', (code, sig) => {
    if (!stopping) log(`${name} exited early (code ${code}, signal ${sig}):\n${out}`);
  });
  children.set(name, { child, output: () => out });
  return child;
};
let stopping = false;
const stopAll = async () => {
  stopping = true;
  for (const [name, { child }] of children) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => {
        const t = setTimeout(() => {
          child.kill('SIGKILL');
          r();
        }, 3000);
        child.once('exit', () => {
          clearTimeout(t);
          r();
        });
      });
      const tail = children.get(name).output().trim();
      if (tail) log(`${name} output: ${tail.split('\n').slice(-3).join(' | ')}`);
    }
  }
};
process.on('SIGINT', async () => {
  await stopAll();
  process.exit(130);
});

const version = (cmd, argv, re) => {
  try {
    const r = spawnSync(cmd, argv, { encoding: 'utf8' });
    const m = (r.stdout + r.stderr).match(re);
    return m ? m[1] : '?';
  } catch {
    return '?';
  }
};

const digOnce = (srv, nameQ) =>
  spawnSync(
    'dig',
    [
      `@${srv.host}`,
      '-p',
      String(srv.port),
      '+time=1',
      '+tries=1',
      '+noall',
      '+comments',
      '+answer',
      nameQ,
      'A',
    ],
    { encoding: 'utf8' },
  );

async function waitReady(name) {
  const srv = SERVERS[name];
  for (let i = 0; i < 100; i++) {
    const r = digOnce(srv, names[0]);
    if (/status: NOERROR/.test(r.stdout)) return;
    await sleep(100);
  }
  throw new Error(`${name} did not become ready on ${srv.host}:${srv.port}\n${children.get(name)?.output()}`);
}

try {
  if (O.only.includes('kpath')) {
    const nodeArgs = O.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${join(work, 'prof')}`] : [];
    startServer('kpath', process.execPath, [
      ...nodeArgs,
      join(HERE, 'kpath-server.mjs'),
      distDir,
      manifestPath,
      SERVERS.kpath.host,
      String(SERVERS.kpath.port),
    ]);
  }
  if (O.only.includes('kpath-dgram')) {
    startServer(
      'kpath-dgram',
      process.execPath,
      [
        join(HERE, 'kpath-server.mjs'),
        distDir,
        manifestPath,
        SERVERS['kpath-dgram'].host,
        String(SERVERS['kpath-dgram'].port),
      ],
      { ...process.env, KPATH_NATIVE: '0' },
    );
  }
  if (O.only.includes('unbound')) {
    execFileSync('unbound-checkconf', [unboundConf], { stdio: 'pipe' });
    startServer('unbound', 'unbound', ['-d', '-c', unboundConf]);
  }
  if (O.only.includes('dnsmasq')) startServer('dnsmasq', 'dnsmasq', ['-k', `--conf-file=${dnsmasqConf}`]);
  for (const name of O.only) await waitReady(name);

  // ---------------------------------------------------------------- 6. verify answers
  const verify = (name) => {
    const srv = SERVERS[name];
    const r = spawnSync(
      'dig',
      [
        `@${srv.host}`,
        '-p',
        String(srv.port),
        '+time=2',
        '+tries=2',
        '+noedns',
        '+noall',
        '+comments',
        '+question',
        '+answer',
        '-f',
        digFile,
      ],
      { encoding: 'utf8', maxBuffer: 64 << 20 },
    );
    /** name -> {status, flags, ttls:Set, ips:[]} */
    const got = new Map();
    let cur;
    for (const line of r.stdout.split('\n')) {
      let m = line.match(/status: (\w+), id/);
      if (m) {
        cur = { status: m[1], flags: '', ttls: new Set(), ips: [] };
        continue;
      }
      m = line.match(/^;; flags: ([a-z ]+);/);
      if (m && cur) {
        cur.flags = m[1].trim();
        continue;
      }
      m = line.match(/^;; QUESTION SECTION:/);
      if (m) continue;
      m = line.match(/^;(\S+)\.\s+IN\s+A$/);
      if (m && cur) {
        got.set(m[1].toLowerCase(), cur);
        continue;
      }
      m = line.match(/^(\S+)\.\s+(\d+)\s+IN\s+A\s+(\S+)$/);
      if (m) {
        const e = got.get(m[1].toLowerCase());
        if (e) {
          e.ttls.add(Number(m[2]));
          e.ips.push(m[3]);
        }
      }
    }
    const bad = [];
    const flagsSeen = new Set();
    for (const n of names) {
      const e = got.get(n);
      const want = records.get(n).join(',');
      if (!e) {
        bad.push(`${n}: no answer`);
        continue;
      }
      flagsSeen.add(e.flags);
      const ips = e.ips.sort().join(',');
      if (e.status !== 'NOERROR' || ips !== want || e.ttls.size !== 1 || !e.ttls.has(TTL))
        bad.push(`${n}: ${e.status} ttl=${[...e.ttls]} ${ips} (want NOERROR ttl=${TTL} ${want})`);
    }
    return { bad, flags: [...flagsSeen] };
  };
  for (const name of O.only) {
    const v = verify(name);
    if (v.bad.length)
      throw new Error(
        `${name} answers differ from the snapshot (${v.bad.length}/${names.length}):\n${v.bad.slice(0, 5).join('\n')}`,
      );
    log(
      `verified ${name}: ${names.length}/${names.length} names NOERROR, TTL ${TTL}, same A sets (flags: ${v.flags.join(' / ')})`,
    );
  }

  // ---------------------------------------------------------------- 7. measure
  const cpuTicks = (pid) => {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14, 15)
  };
  /** busy ticks of one CPU (/proc/stat: user nice system irq softirq steal), or NaN if not a single CPU */
  const coreBusy = (cpu) => {
    const line = readFileSync('/proc/stat', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`cpu${cpu} `));
    if (!line) return Number.NaN;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    return f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
  };
  const CLK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

  /** Wait (up to --quiet-wait s) until the server core is under 15% busy for 1 s: other tenants share it. */
  const waitQuiet = async () => {
    const deadline = Date.now() + O.quietWait * 1000;
    for (;;) {
      const b0 = coreBusy(O.serverCpu);
      await sleep(1000);
      const load = (coreBusy(O.serverCpu) - b0) / CLK;
      if (Number.isNaN(load) || load < 0.15 || Date.now() >= deadline) return load;
    }
  };

  const dnsperf = (name, seconds) => {
    const srv = SERVERS[name];
    const pid = children.get(name).child.pid;
    const argv = [
      '-c',
      O.clientCpu,
      'dnsperf',
      '-s',
      srv.host,
      '-p',
      String(srv.port),
      '-d',
      queryFile,
      '-l',
      String(seconds),
      '-c',
      String(O.clients),
      '-T',
      '1',
      '-q',
      String(O.outstanding),
      '-t',
      '2',
    ];
    const c0 = cpuTicks(pid);
    const b0 = coreBusy(O.serverCpu);
    const t0 = process.hrtime.bigint();
    const r = spawnSync('taskset', argv, { encoding: 'utf8' });
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const serverSec = (cpuTicks(pid) - c0) / CLK;
    const cpu = serverSec / wall;
    const other = Math.max(0, (coreBusy(O.serverCpu) - b0) / CLK - serverSec) / wall;
    const out = r.stdout + r.stderr;
    const num = (re) => {
      const m = out.match(re);
      return m ? Number(m[1]) : Number.NaN;
    };
    const res = {
      server: name,
      qps: num(/Queries per second:\s+([\d.]+)/),
      sent: num(/Queries sent:\s+(\d+)/),
      completed: num(/Queries completed:\s+(\d+)/),
      lost: num(/Queries lost:\s+(\d+)/),
      avgLatMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
      maxLatMs: num(/Average Latency \(s\):\s+[\d.]+ \(min [\d.]+, max ([\d.]+)\)/) * 1000,
      sdLatMs: num(/Latency StdDev \(s\):\s+([\d.]+)/) * 1000,
      respSize: num(/Average packet size:\s+request \d+, response (\d+)/),
      noerror: /Response codes:\s+NOERROR \d+ \(100\.00%\)/.test(out),
      serverCpu: cpu,
      /** CPU time the server spent per answered query: robust to time slices lost to other load */
      cpuUsPerQuery: (serverSec / num(/Queries completed:\s+(\d+)/)) * 1e6,
      /** busy share of the server's CPU not used by the server (other tenants, softirq) */
      otherLoad: other,
      cmd: `taskset ${argv.join(' ')}`,
    };
    if (Number.isNaN(res.qps)) throw new Error(`could not parse dnsperf output for ${name}:\n${out}`);
    return res;
  };

  log(`warm-up: ${O.warmup} s per server (discarded)`);
  for (const name of O.only) dnsperf(name, O.warmup);

  const runs = [];
  for (let round = 0; round < O.rounds; round++) {
    const order = O.only.map((_, k) => O.only[(k + round) % O.only.length]);
    for (const name of order) {
      const before = await waitQuiet();
      const r = dnsperf(name, O.duration);
      r.loadBefore = before;
      r.round = round + 1;
      runs.push(r);
      log(
        `round ${round + 1} ${name.padEnd(8)} ${r.qps.toFixed(0).padStart(7)} q/s  avg ${r.avgLatMs.toFixed(3)} ms  lost ${r.lost}  server cpu ${(r.serverCpu * 100).toFixed(0)}% (${r.cpuUsPerQuery.toFixed(2)} us/query), other load on its core ${(r.otherLoad * 100).toFixed(0)}%${r.noerror ? '' : '  (NOT all NOERROR)'}`,
      );
    }
  }

  // ---------------------------------------------------------------- report
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  };
  const summary = {};
  for (const name of O.only) {
    const rs = runs.filter((r) => r.server === name);
    summary[name] = {
      qps: median(rs.map((r) => r.qps)),
      qpsRuns: rs.map((r) => Math.round(r.qps)),
      avgLatMs: median(rs.map((r) => r.avgLatMs)),
      sdLatMs: median(rs.map((r) => r.sdLatMs)),
      maxLatMs: Math.max(...rs.map((r) => r.maxLatMs)),
      lost: rs.reduce((n, r) => n + r.lost, 0),
      completed: rs.reduce((n, r) => n + r.completed, 0),
      respSize: rs[0].respSize,
      serverCpu: median(rs.map((r) => r.serverCpu)),
      cpuUsPerQuery: median(rs.map((r) => r.cpuUsPerQuery)),
      otherLoad: median(rs.map((r) => r.otherLoad)),
      allNoerror: rs.every((r) => r.noerror),
    };
  }
  const perRoundRatio = (peer) =>
    median(
      [...new Set(runs.map((r) => r.round))].map(
        (round) =>
          runs.find((r) => r.round === round && r.server === 'kpath').qps /
          runs.find((r) => r.round === round && r.server === peer).qps,
      ),
    );
  const machine = {
    nproc: execFileSync('nproc', { encoding: 'utf8' }).trim(),
    cpu: (readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) ?? [])[1] ?? '?',
    kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(),
    node: process.version,
    unbound: version('unbound', ['-V'], /Version (\S+)/),
    dnsmasq: version('dnsmasq', ['--version'], /version (\S+)/),
    dnsperf: version('dnsperf', ['-h'], /Version (\S+)/),
  };
  const rows = [
    [
      'server',
      'queries/s (median)',
      'runs (q/s)',
      'avg latency ms',
      'latency sd ms',
      'max latency ms',
      'lost',
      'resp bytes',
      'server CPU',
      'q/s per busy core',
      'server CPU us/query',
      'other load on server core',
    ],
  ];
  for (const name of O.only) {
    const s = summary[name];
    rows.push([
      name,
      s.qps.toFixed(0),
      s.qpsRuns.join(' / '),
      s.avgLatMs.toFixed(3),
      s.sdLatMs.toFixed(3),
      s.maxLatMs.toFixed(1),
      `${s.lost}/${s.completed + s.lost}`,
      String(s.respSize),
      `${(s.serverCpu * 100).toFixed(0)}%`,
      (1e6 / s.cpuUsPerQuery).toFixed(0),
      s.cpuUsPerQuery.toFixed(2),
      `${(s.otherLoad * 100).toFixed(0)}%`,
    ]);
  }
  const table = [
    `| ${rows[0].join(' | ')} |`,
    `|${rows[0].map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...rows.slice(1).map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
  const ratios = [];
  const targets = { dnsmasq: 1.0, unbound: 0.8 };
  if (summary.kpath) {
    for (const peer of ['dnsmasq', 'unbound']) {
      if (!summary[peer]) continue;
      const r = summary.kpath.qps / summary[peer].qps;
      const pr = perRoundRatio(peer);
      const eff = summary[peer].cpuUsPerQuery / summary.kpath.cpuUsPerQuery;
      ratios.push({
        peer,
        ratioOfMedians: r,
        medianPerRoundRatio: pr,
        cpuEfficiencyRatio: eff,
        target: targets[peer],
        met: r >= targets[peer],
      });
    }
  }
  console.log(
    `\nmachine: nproc ${machine.nproc}, ${machine.cpu}, kernel ${machine.kernel}, node ${machine.node}, unbound ${machine.unbound}, dnsmasq ${machine.dnsmasq}, dnsperf ${machine.dnsperf}`,
  );
  console.log(
    `zone: ${names.length} names (${headlessCount} headless), ${aRecords} A records; ${O.queries} queries in file; ${O.rounds} rounds x ${O.duration} s; dnsperf -c ${O.clients} -T 1 -q ${O.outstanding}; servers on CPU ${O.serverCpu}, dnsperf on CPU ${O.clientCpu}\n`,
  );
  console.log(table);
  console.log('');
  for (const r of ratios)
    console.log(
      `kpath/${r.peer}: ${r.ratioOfMedians.toFixed(2)}x (median of per-round ratios ${r.medianPerRoundRatio.toFixed(2)}x; CPU-per-query ratio ${r.cpuEfficiencyRatio.toFixed(2)}x), target >= ${r.target.toFixed(1)}x: ${r.met ? 'MET' : `MISSED by ${((1 - r.ratioOfMedians / r.target) * 100).toFixed(0)}%`}`,
    );
  if (O.out)
    writeFileSync(O.out, JSON.stringify({ options: O, machine, summary, ratios, runs }, null, 2) + '\n');
  await stopAll();
  if (O.cpuProf && existsSync(join(work, 'prof')))
    log(
      `cpu profiles: ${readdirSync(join(work, 'prof'))
        .map((f) => join(work, 'prof', f))
        .join(' ')}`,
    );
} catch (e) {
  await stopAll();
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
} finally {
  if (!O.keep && !O.cpuProf) {
    // Drop the node_modules symlink first so nothing can ever follow it.
    rmSync(join(work, 'node_modules'), { force: true });
    rmSync(work, { recursive: true, force: true });
  } else log(`kept ${work}`);
}
