/**
 * NetworkPolicy decisions (netmodel/policy): how fast the evaluator answers, on a cluster shaped
 * like a busy multi-tenant one.
 *
 *   npx vitest bench --run bench/policy.bench.ts
 *
 * The cluster: 50 namespaces of 100 pods (5,000 pods), labels app=app-0..19 and tier=web|api|db;
 * 1,000 policies (20 per namespace): a default-deny, allow rules by podSelector, by
 * namespaceSelector + podSelector (AND), by named and numeric ports with endPort ranges, and egress
 * ipBlocks with except. Decisions are random pod pairs to TCP/8080 (both directions evaluated, as
 * PolicyEngine.check does). The matrix case computes the full pod-to-pod table of 500 pods
 * (250,000 decisions). The summary at the end prints decisions per CPU-second and the matrix's CPU
 * time (medians; CPU time, not wall time, because the benchmark machine is shared).
 */
import { afterAll, bench, describe } from 'vitest';
import { parsePrefix, v4 } from '../netmodel/addr.js';
import type {
  LabelSelector,
  Meta,
  Namespace,
  NetworkPolicy,
  NetworkPolicyRule,
  Pod,
} from '../netmodel/cluster/index.js';
import { PolicyEngine, reachability } from '../netmodel/policy/index.js';
import { intBelow, SeededRng } from '../netmodel/rng.js';

const NAMESPACES = 50;
const PODS_PER_NS = 100;
const POLICIES_PER_NS = 20;
const BATCH = 10_000;

const meta = (name: string, namespace: string, labels: Record<string, string> = {}): Meta => ({
  name,
  namespace,
  labels,
  annotations: {},
  uid: `${namespace}/${name}`,
});
const sel = (matchLabels: Record<string, string>): LabelSelector => ({ matchLabels, matchExpressions: [] });
const TIERS = ['web', 'api', 'db'];

function makeCluster() {
  const rng = new SeededRng(11);
  const namespaces: Namespace[] = [];
  const pods: Pod[] = [];
  const networkPolicies: NetworkPolicy[] = [];
  for (let n = 0; n < NAMESPACES; n++) {
    const ns = `ns-${n}`;
    namespaces.push({
      kind: 'Namespace',
      meta: meta(ns, '', { 'kubernetes.io/metadata.name': ns, team: `team-${n % 10}` }),
      raw: {},
      derived: false,
    });
    for (let i = 0; i < PODS_PER_NS; i++) {
      pods.push({
        kind: 'Pod',
        meta: meta(`pod-${i}`, ns, { app: `app-${i % 20}`, tier: TIERS[i % 3]! }),
        nodeName: `node-${n % 20}`,
        nodeSelector: {},
        tolerations: [],
        hostNetwork: false,
        restartPolicy: 'Always',
        containers: [
          {
            name: 'c',
            image: 'i',
            ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
            env: [],
          },
        ],
        phase: 'Running',
        ready: true,
        podIPs: [v4(0x0af40000 + n * 256 + i + 1)],
        terminating: false,
        raw: {},
        derived: false,
      });
    }
    for (let k = 0; k < POLICIES_PER_NS; k++) {
      const app = `app-${intBelow(rng, 20)}`;
      const from = `app-${intBelow(rng, 20)}`;
      let ingress: NetworkPolicyRule[] = [];
      let egress: NetworkPolicyRule[] = [];
      let podSelector = sel({ app });
      let policyTypes: NetworkPolicy['policyTypes'] = ['Ingress'];
      switch (k % 5) {
        case 0:
          podSelector = k === 0 ? sel({}) : sel({ tier: TIERS[k % 3]! });
          break;
        case 1:
          ingress = [
            { peers: [{ podSelector: sel({ app: from }) }], ports: [{ protocol: 'TCP', port: 'http' }] },
          ];
          break;
        case 2:
          ingress = [
            {
              peers: [
                {
                  namespaceSelector: sel({ team: `team-${intBelow(rng, 10)}` }),
                  podSelector: sel({ tier: 'web' }),
                },
                { podSelector: sel({ app: from }) },
              ],
              ports: [{ protocol: 'TCP', port: 8000, endPort: 8100 }],
            },
          ];
          break;
        case 3:
          policyTypes = ['Egress'];
          egress = [
            {
              peers: [
                {
                  ipBlock: {
                    cidr: parsePrefix('10.244.0.0/16'),
                    except: [parsePrefix(`10.244.${intBelow(rng, 50)}.0/24`)],
                  },
                },
              ],
              ports: [{ protocol: 'TCP', port: 8080 }],
            },
          ];
          break;
        case 4:
          policyTypes = ['Ingress', 'Egress'];
          ingress = [{ peers: [{ namespaceSelector: sel({}) }], ports: [] }];
          egress = [
            { peers: [{ podSelector: sel({ tier: 'db' }) }], ports: [{ protocol: 'UDP', port: 53 }] },
          ];
          break;
      }
      networkPolicies.push({
        kind: 'NetworkPolicy',
        meta: meta(`pol-${k}`, ns),
        podSelector,
        policyTypes,
        ingress,
        egress,
        raw: {},
      });
    }
  }
  return { namespaces, pods, networkPolicies };
}

const snap = makeCluster();
const t0 = performance.now();
const engine = new PolicyEngine(snap);
const indexMs = performance.now() - t0;
const rng = new SeededRng(5);
const pairs = Array.from({ length: 8192 }, () => {
  const a = snap.pods[intBelow(rng, snap.pods.length)]!;
  const b = snap.pods[intBelow(rng, snap.pods.length)]!;
  return {
    src: { ip: a.podIPs[0]!, pod: a },
    dst: { ip: b.podIPs[0]!, pod: b },
    port: 8080,
    protocol: 'TCP' as const,
  };
});
const matrixPods = snap.pods.slice(0, 500);

/**
 * CPU time of this process, ms (user + system): the machine the figures come from is shared, so
 * wall-clock rates would measure the neighbours; CPU time measures the evaluator.
 */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const samples: Record<string, number[]> = { decisions: [], verdicts: [], matrix: [], index: [] };
let sink = 0;
let cursor = 0;

describe('NetworkPolicy evaluator: 1,000 policies, 5,000 pods', () => {
  bench('decisions (check: egress + ingress), batch of 10,000', () => {
    const s = cpuMs();
    for (let i = 0; i < BATCH; i++) {
      if (engine.check(pairs[cursor]!).allowed) sink++;
      cursor = (cursor + 1) & 8191;
    }
    samples.decisions!.push(BATCH / ((cpuMs() - s) / 1000));
  });

  bench('verdicts only (allows: egress + ingress, no reasons), batch of 10,000', () => {
    const s = cpuMs();
    for (let i = 0; i < BATCH; i++) {
      if (engine.allows(pairs[cursor]!)) sink++;
      cursor = (cursor + 1) & 8191;
    }
    samples.verdicts!.push(BATCH / ((cpuMs() - s) / 1000));
  });

  bench(
    'full matrix of 500 pods (250,000 decisions)',
    () => {
      const s = cpuMs();
      sink += reachability(engine, matrixPods, 8080, 'TCP').pods.length;
      samples.matrix!.push(cpuMs() - s);
    },
    { iterations: 5 },
  );

  bench(
    'index build (new PolicyEngine per snapshot)',
    () => {
      const s = cpuMs();
      sink += new PolicyEngine(snap).policyCount;
      samples.index!.push(cpuMs() - s);
    },
    { iterations: 5 },
  );
});

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
afterAll(() => {
  console.log(
    `\npolicy bench: ${Math.round(median(samples.decisions!)).toLocaleString('en')} explained decisions/s; ` +
      `${Math.round(median(samples.verdicts!)).toLocaleString('en')} verdicts/s; ` +
      `matrix of 500 pods ${median(samples.matrix!).toFixed(0)} ms; ` +
      `index build ${median(samples.index!).toFixed(0)} ms (first ${indexMs.toFixed(0)} ms) [sink ${sink > 0}]`,
  );
});
