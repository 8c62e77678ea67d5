/**
 * The policy stage in `kpath trace` and the `kpath policy` commands, through the CLI: egress decided
 * on the source pod's node after its DNAT, ingress on the destination pod's node, replies of an
 * allowed connection not checked (conntrack passes them), every verdict with the policy and its line.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import { node, pod, yamlOf } from '../helpers/cluster.js';

type Obj = Record<string, unknown>;
const np = (ns: string, name: string, spec: Obj): Obj => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name, namespace: ns },
  spec,
});

function clusterFile(...policies: Obj[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'kpath-netpol-'));
  const file = join(dir, 'cluster.yaml');
  writeFileSync(
    file,
    yamlOf(
      node('node-1', { podCIDR: '10.244.1.0/24', ip: '10.0.0.11' }),
      node('node-2', { podCIDR: '10.244.2.0/24', ip: '10.0.0.12' }),
      // Addresses given, as a running cluster's status has them, so the messages below can name them.
      pod('client', {
        nodeName: 'node-1',
        labels: { app: 'client' },
        status: { phase: 'Running', podIP: '10.244.1.2' },
      }),
      pod('server', {
        nodeName: 'node-2',
        labels: { app: 'server' },
        status: { phase: 'Running', podIP: '10.244.2.2' },
        ports: [{ name: 'http', containerPort: 8080 }],
      }),
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'server', namespace: 'default' },
        spec: {
          clusterIP: '10.96.0.40',
          selector: { app: 'server' },
          ports: [{ port: 80, targetPort: 'http' }],
        },
      },
      ...policies,
    ),
  );
  return file;
}

async function run(argv: string[]) {
  const io = bufferIO();
  const code = await main(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

async function traceJson(file: string, to = 'svc/default/server:80') {
  const r = await run(['trace', '-f', file, '--from', 'pod/default/client', '--to', to, '-o', 'json']);
  expect(r.code, r.err).toBe(0);
  return JSON.parse(r.out).outcomes[0].path;
}

describe('the policy stage of a followed trace', () => {
  it('a cross-node connection allowed leaving node-1 is dropped reaching the pod on node-2', async () => {
    const file = clusterFile(
      np('default', 'deny-ingress', { podSelector: { matchLabels: { app: 'server' } } }),
    );
    const path = await traceJson(file);
    expect(path.forward.map((h: { node: string }) => h.node)).toEqual(['node-1', 'node-2']);
    expect(path.policy.egress).toMatchObject({
      node: 'node-1',
      pod: 'default/client',
      allowed: true,
      isolated: false,
    });
    expect(path.policy.ingress).toMatchObject({
      node: 'node-2',
      pod: 'default/server',
      allowed: false,
      policies: ['default/deny-ingress'],
    });
    // Ingress sees the endpoint port (after DNAT on node-1) and the client's own address.
    expect(path.policy.ingress.reason).toBe(
      'default/server is isolated for ingress by default/deny-ingress; no rule allows TCP/8080 from 10.244.1.2 (pod default/client)',
    );
    expect(path.arrived.kind).toBe('stopped');
    expect(path.arrived.text).toMatch(
      /^stops on node-2: dropped by NetworkPolicy ingress at pod default\/server/,
    );
    expect(path.reply).toBeUndefined();
    const text = (
      await run(['trace', '-f', file, '--from', 'pod/default/client', '--to', 'svc/default/server:80'])
    ).out;
    expect(text).toContain('node-2: NetworkPolicy ingress (reaching pod default/server): DROPPED');
  });

  it('a pod reaching itself through its own service (hairpin): ingress allows it in the trace and under kpath up', async () => {
    const file = clusterFile(
      np('default', 'deny-ingress', { podSelector: { matchLabels: { app: 'server' } } }),
    );
    const r = await run([
      'trace',
      '-f',
      file,
      '--from',
      'pod/default/server',
      '--to',
      'svc/default/server:80',
      '-o',
      'json',
    ]);
    expect(r.code, r.err).toBe(0);
    const path = JSON.parse(r.out).outcomes[0].path;
    // kube-proxy's KUBE-SEP chain marks `-s 10.244.2.2` for masquerade: the pod sees its node's
    // bridge address, not a pod. Policy does not apply to a pod's own traffic all the same.
    expect(path.arrived).toMatchObject({ kind: 'pod', pod: 'default/server' });
    expect(path.arrived.from).toBe(`10.244.2.1:${path.arrived.from.split(':')[1]}`);
    expect(path.policy.ingress).toMatchObject({ node: 'node-2', pod: 'default/server', allowed: true });
    expect(path.policy.ingress.reason).toContain(
      'reaching itself through a service (hairpin, masqueraded to 10.244.2.1)',
    );

    // kpath up's gate decides the same flow the same way.
    const { PolicyGate, RuntimeMetrics } = await import('../../proxy/runtime/index.js');
    const { loadCluster } = await import('../../proxy/manifest-files.js');
    const { parseIP } = await import('../../netmodel/addr.js');
    const pino = (await import('pino')).default;
    const loaded = loadCluster([file]);
    if (!loaded.ok) throw new Error('cluster does not build');
    const gate = new PolicyGate({
      reject: false,
      clock: { now: () => 0 },
      metrics: new RuntimeMetrics({ processMetrics: false }),
      log: pino({ level: 'silent' }),
    });
    gate.sync(loaded.snapshot);
    const verdict = gate.check(
      {
        protocol: 'TCP',
        client: { ip: parseIP('10.244.2.2'), port: 40000 },
        clientIsNodeProcess: false,
        destination: { ip: parseIP('10.96.0.40'), port: 80 },
        entryNode: 'node-2',
        entry: 'ClusterIP',
        servicePort: 'default/server:',
      },
      { kind: 'forward', endpoint: { ip: parseIP('10.244.2.2'), port: 8080 }, source: parseIP('10.244.2.1') },
    );
    expect(verdict).toBeUndefined();
  });

  it("conntrack on the first node: no entry when policy drops there, SYN_SENT when another node's pod drops it", async () => {
    const outcome = async (file: string) => {
      const r = await run([
        'trace',
        '-f',
        file,
        '--from',
        'pod/default/client',
        '--to',
        'svc/default/server:80',
        '-o',
        'json',
      ]);
      return JSON.parse(r.out).outcomes[0];
    };
    // Dropped leaving the client on node-1 (filter FORWARD, before POSTROUTING confirms): no entry.
    const egress = await outcome(
      clusterFile(
        np('default', 'client-out', {
          podSelector: { matchLabels: { app: 'client' } },
          policyTypes: ['Egress'],
        }),
      ),
    );
    expect(egress.path.policy.egress.allowed).toBe(false);
    expect(egress.conntrack).toBeNull();
    // Forwarded by node-1, dropped reaching the pod on node-2: node-1 keeps its unreplied entry.
    const ingress = await outcome(
      clusterFile(np('default', 'deny-ingress', { podSelector: { matchLabels: { app: 'server' } } })),
    );
    expect(ingress.path.policy.ingress.allowed).toBe(false);
    expect(ingress.conntrack).toMatch(/^tcp +6 120 SYN_SENT src=10\.244\.1\.2 .*\[UNREPLIED\]/);
  });

  it('egress is decided after DNAT: a rule for the service port does not allow the endpoint port', async () => {
    const svcPort = clusterFile(
      np('default', 'client-out', {
        podSelector: { matchLabels: { app: 'client' } },
        policyTypes: ['Egress'],
        egress: [{ ports: [{ port: 80 }] }],
      }),
    );
    const p1 = await traceJson(svcPort);
    expect(p1.policy.egress).toMatchObject({ node: 'node-1', allowed: false });
    expect(p1.policy.egress.reason).toContain('no rule allows TCP/8080 to 10.244.2.2 (pod default/server)');
    expect(p1.forward).toHaveLength(1);
  });

  it('an allowed connection: the rule and its line are named, and the reply passes although the client is isolated for ingress', async () => {
    const file = clusterFile(
      np('default', 'deny-all-ingress', { podSelector: {} }),
      np('default', 'server-from-client', {
        podSelector: { matchLabels: { app: 'server' } },
        ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }], ports: [{ port: 'http' }] }],
      }),
    );
    const path = await traceJson(file);
    expect(path.policy.ingress.allowed).toBe(true);
    expect(path.policy.ingress.allowedBy).toEqual([
      {
        policy: 'default/server-from-client',
        direction: 'Ingress',
        rule: 0,
        origin: expect.stringMatching(/cluster\.yaml:\d+$/),
      },
    ]);
    expect(path.arrived).toMatchObject({ kind: 'pod', pod: 'default/server' });
    expect(path.replyArrived).toMatchObject({ kind: 'pod', pod: 'default/client' });
  });
});

describe('kpath policy check and matrix', () => {
  it('check names both sides and exits 1 when denied, 0 when allowed', async () => {
    const file = clusterFile(
      np('default', 'deny-ingress', { podSelector: { matchLabels: { app: 'server' } } }),
    );
    const denied = await run([
      'policy',
      'check',
      '-f',
      file,
      '--from',
      'pod/default/client',
      '--to',
      'pod/default/server:http',
    ]);
    expect(denied.code).toBe(1);
    expect(denied.out).toContain(
      'TCP 10.244.1.2 (pod default/client) -> 10.244.2.2:8080 (pod default/server): DENIED',
    );
    const back = await run([
      'policy',
      'check',
      '-f',
      file,
      '--from',
      'pod/default/server',
      '--to',
      'pod/default/client:80/TCP',
      '-o',
      'json',
    ]);
    expect(back.code).toBe(0);
    const j = JSON.parse(back.out);
    expect(j.allowed).toBe(true);
    expect(j.ingress).toMatchObject({ pod: 'default/client', isolated: false });
  });

  it('matrix prints the e2e truth table', async () => {
    const file = clusterFile(
      np('default', 'deny-ingress', { podSelector: { matchLabels: { app: 'server' } } }),
    );
    const r = await run(['policy', 'matrix', '-f', file, '--port', '8080']);
    expect(r.out).toBe('-\tdefault/client\tdefault/server\ndefault/client\t.\tX\ndefault/server\t.\t.\n');
  });

  it('get netpol shows kubectl columns; a bad policy fails validation with file:line:column', async () => {
    const file = clusterFile(
      np('default', 'deny-ingress', { podSelector: { matchLabels: { app: 'server' } } }),
    );
    const r = await run(['get', 'netpol', '-f', file]);
    expect(r.out).toBe('NAME           POD-SELECTOR   AGE\ndeny-ingress   app=server     <unknown>\n');
    const bad = clusterFile(
      np('default', 'bad', {
        podSelector: {},
        egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/16', except: ['10.1.0.0/24'] } }] }],
      }),
    );
    const v = await run(['validate', '-f', bad]);
    expect(v.code).toBe(2);
    expect(v.err).toMatch(
      /cluster\.yaml:\d+:\d+: error: NetworkPolicy default\/bad: spec\.egress\[0\]\.to\[0\]\.ipBlock\.except\[0\]: .*strict subset/,
    );
  });
});
