/**
 * The Cluster, KubeProxyConfiguration and Node documents both proxy benchmarks start from
 * (bench/proxy/run.mjs runs them for real, bench/proxy-decide.mjs drives the mode alone): one node,
 * 10.244.1.0/24 pods, 10.96.0.0/12 services, no DNS addon (one kpath per mode runs side by side, and
 * each would claim 10.96.0.10:53 and its pods' IPs). Services and endpoints are appended after it.
 */
export function clusterHead(mode) {
  return `apiVersion: kpath.dev/v1alpha1
kind: Cluster
metadata:
  name: bench-${mode}
spec:
  podCIDR: 10.244.0.0/16
  serviceCIDR: 10.96.0.0/12
  dns:
    addon: false
---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: ${mode}
clusterCIDR: 10.244.0.0/16
---
apiVersion: v1
kind: Node
metadata:
  name: node-a
spec:
  podCIDR: 10.244.1.0/24
status:
  addresses:
    - type: InternalIP
      address: 10.240.0.11
`;
}

/**
 * `count` ClusterIP services web0.. (10.96.0.80 and up, port 80 -> 8080), each with a hand-written
 * EndpointSlice of one ready endpoint 10.244.1.(10 + i % 200): the cluster the kernel-mode
 * micro-benchmarks (modeHarness below) drive, after clusterHead.
 */
export function benchServices(count) {
  let s = '';
  for (let i = 0; i < count; i++) {
    const last = 80 + i;
    s += `---
apiVersion: v1
kind: Service
metadata:
  name: web${i}
  namespace: default
spec:
  clusterIP: 10.96.${(last >> 8) & 255}.${last & 255}
  ports:
    - name: p
      port: 80
      targetPort: 8080
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web${i}-1
  namespace: default
  labels:
    kubernetes.io/service-name: web${i}
addressType: IPv4
ports:
  - name: p
    port: 8080
    protocol: TCP
endpoints:
  - addresses: ["10.244.1.${10 + (i % 200)}"]
    conditions:
      ready: true
`;
  }
  return s;
}

/**
 * The modules a kernel-mode harness needs, from one build (`dir`: a dist folder). ipvs mode's node
 * program is passed to IptablesMode since session 6 (`ipvs: programIpvs`); an older build has none
 * and ignores the option.
 */
export async function loadModeModules(dir) {
  let programIpvs;
  try {
    ({ programIpvs } = await import(`${dir}/proxy/ipvs/index.js`));
  } catch {
    programIpvs = undefined;
  }
  return {
    dir,
    programIpvs,
    ...(await import(`${dir}/netmodel/cluster/index.js`)),
    ...(await import(`${dir}/netmodel/clock.js`)),
    ...(await import(`${dir}/netmodel/rng.js`)),
    ...(await import(`${dir}/netmodel/addr.js`)),
    ...(await import(`${dir}/proxy/runtime/modes/iptables.js`)),
  };
}

/**
 * One emulated proxy in `mode` on clusterHead + benchServices(services), from a build's modules
 * (loadModeModules): `one(i)` decides connection i (to service i % services, from the node's address,
 * the next client port of wrk's ephemeral range 32768-60999, as a node process) and, if forwarded,
 * closes it (the six walks of a proxied connection); the clock then moves 4 ms (`clockStepUs`), so
 * ~30,000 TIME_WAIT entries stay in the table, and every 2 s of clock the runtime's housekeeping runs (unless
 * `housekeeping` is set false). `one` returns the decision; `forwarded` counts them.
 */
export function modeHarness(build, mode, { services = 1, clockStart = 1_000_000, clockStepUs = 4000 } = {}) {
  const { buildCluster, ManualClock, SeededRng, parseIP, IptablesMode, programIpvs } = build;
  const b = buildCluster([{ file: 'bench.yaml', text: clusterHead(mode) + benchServices(services) }]);
  if (!b.ok) throw new Error(JSON.stringify(b.diagnostics));
  const clock = new ManualClock(clockStart);
  const m = new IptablesMode({ clock, rng: new SeededRng(1), kernelMode: mode, ipvs: programIpvs });
  m.sync(b.snapshot);
  const nodeIP = parseIP('10.240.0.11');
  const vips = Array.from({ length: services }, (_, i) =>
    parseIP(`10.96.${((80 + i) >> 8) & 255}.${(80 + i) & 255}`),
  );
  let port = 32768;
  let lastGc = clock.now();
  // The clock moves clockStepUs per connection, in whole milliseconds (the remainder carried over).
  let carryUs = 0;
  const h = { m, clock, forwarded: 0, housekeeping: true };
  h.one = (i = 0) => {
    port = port >= 60999 ? 32768 : port + 1;
    const svc = i % services;
    const flow = {
      protocol: 'TCP',
      client: { ip: nodeIP, port },
      clientIsNodeProcess: true,
      destination: { ip: vips[svc], port: 80 },
      entryNode: 'node-a',
      entry: 'ClusterIP',
      servicePort: `default/web${svc}:p`,
    };
    const d = m.decide(flow, 0);
    if (d.kind === 'forward') {
      h.forwarded++;
      m.closed(flow, d);
    }
    carryUs += clockStepUs;
    const ms = Math.floor(carryUs / 1000);
    carryUs -= ms * 1000;
    if (ms) clock.advance(ms);
    if (h.housekeeping && clock.now() - lastGc >= 2000) {
      m.housekeeping(clock.now());
      lastGc = clock.now();
    }
    return d;
  };
  return h;
}
