import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';

async function kpath(...argv: string[]) {
  const io = bufferIO();
  const code = await main(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe('kpath get', () => {
  it('get all prints the bundled example: nodes, pods with IPs and nodes, services with IPs and ports, endpoints', async () => {
    const r = await kpath('get', 'all');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\s+INTERNAL-IP/m);
    // kubectl's wide node columns: INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME.
    expect(r.out).toMatch(
      /^node\/worker-1\s+Ready\s+<none>.*10\.0\.0\.12\s+<none>\s+<unknown>\s+<unknown>\s+<unknown>$/m,
    );
    expect(r.out).toMatch(
      /^kube-system\s+service\/kube-dns\s+ClusterIP\s+10\.96\.0\.10\s+<none>\s+53\/UDP,53\/TCP,9153\/TCP/m,
    );
    expect(r.out).toMatch(
      /^default\s+service\/web-nodeport\s+NodePort\s+10\.\d+\.\d+\.\d+\s+<none>\s+80:30080\/TCP/m,
    );
    expect(r.out).toMatch(/^shop\s+service\/payments\s+ExternalName\s+<none>\s+payments\.example\.com/m);
    expect(r.out).toMatch(/^data\s+service\/db\s+ClusterIP\s+None/m);
    expect(r.out).toMatch(
      /^default\s+pod\/web-[a-z0-9]+-[a-z0-9]{5}\s+1\/1\s+Running\s+0\s+<unknown>\s+10\.244\.[12]\.\d+\s+worker-[12]/m,
    );
    expect(r.out).toMatch(/^default\s+endpoints\/web\s+10\.244\.\d+\.\d+:8080,/m);
    // The control-plane taint keeps workloads off it, except CoreDNS which tolerates it.
    const cp = r.out.split('\n').filter((l) => /\scontrol-plane\s/.test(l) && l.includes('pod/'));
    expect(cp.every((l) => l.includes('coredns-'))).toBe(true);
  });

  it('get pods -o wide in one namespace, and -A', async () => {
    const r = await kpath('get', 'pods', '-n', 'data', '-o', 'wide');
    expect(r.out.split('\n')[0]).toMatch(
      /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES$/,
    );
    expect(r.out).toMatch(/^db-0\s+1\/1\s+Running/m);
    expect(r.out).toMatch(/^db-1\s+1\/1\s+Running/m);
    const all = await kpath('get', 'po', '-A');
    expect(all.out.split('\n')[0]).toMatch(/^NAMESPACE\s+NAME/);
    expect(all.out).toMatch(/^kube-system\s+coredns-/m);
  });

  it('-o json is a kubectl List of full objects with what kpath derived', async () => {
    const r = await kpath('get', 'svc', '-n', 'default', '-o', 'json');
    const list = JSON.parse(r.out) as {
      kind: string;
      items: { metadata: { name: string }; spec: Record<string, unknown> }[];
    };
    expect(list.kind).toBe('List');
    const np = list.items.find((i) => i.metadata.name === 'web-nodeport')!;
    expect(np.spec.clusterIP).toMatch(/^10\./);
    expect((np.spec.ports as { nodePort: number }[])[0]!.nodePort).toBe(30080);
    const pods = JSON.parse((await kpath('get', 'pods', '-n', 'default', '-o', 'json')).out) as {
      items: { spec: { nodeName: string }; status: { podIP: string; hostIP: string } }[];
    };
    for (const p of pods.items) {
      expect(p.status.podIP).toMatch(/^10\.244\./);
      expect(p.spec.nodeName).toBeTruthy();
      expect(p.status.hostIP).toMatch(/^10\.0\.0\./);
    }
    const slices = parseYaml((await kpath('get', 'endpointslices', '-n', 'data', '-o', 'yaml')).out) as {
      items: { endpoints: { hostname: string }[]; metadata: { labels: Record<string, string> } }[];
    };
    expect(slices.items[0]!.metadata.labels['kubernetes.io/service-name']).toBe('db');
    expect(slices.items[0]!.endpoints.map((e) => e.hostname).sort()).toEqual(['db-0', 'db-1']);
  });

  it('unknown resources are refused with the list of known ones', async () => {
    const r = await kpath('get', 'ingresses');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/doesn't have a resource type "ingresses"/);
  });
});

describe('kpath validate', () => {
  it('a manifest with several mistakes reports each with file:line:column and exits 2', async () => {
    const r = await kpath('validate', '-f', 'test/fixtures/manifests/broken.yaml');
    expect(r.code).toBe(2);
    const lines = r.err.trim().split('\n');
    expect(
      lines.slice(0, -1).every((l) => /^test\/fixtures\/manifests\/broken\.yaml:\d+:\d+: error: /.test(l)),
    ).toBe(true);
    expect(r.err).toContain(
      'broken.yaml:10:13: error: Service default/Web_Front: spec.ports[0].port: must be between 1 and 65535',
    );
    expect(r.err).toContain(
      'broken.yaml:20:14: error: Service default/sticky: spec.clusterIP: 10.200.0.5 is not in the service CIDR',
    );
    expect(r.err).toContain(
      'broken.yaml:40:9: error: Deployment default/api: spec.template.metadata.labels: selector (app=api) does not match',
    );
    expect(lines.at(-1)).toBe('8 errors; nothing was loaded');
    expect(r.out).toBe('');
  });

  it('the bundled example is valid', async () => {
    const r = await kpath('validate');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^valid: 3 nodes, \d+ pods, 6 services/);
  });

  it('a missing file is a clear error', async () => {
    const r = await kpath('validate', '-f', 'nope.yaml');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/nope\.yaml: no such file or directory \(check the -f path\) \[KPATH_E_MANIFEST\]/);
  });

  it('usage errors exit 2 with help', async () => {
    const r = await kpath('frobnicate');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/Unknown argument: frobnicate/);
    const v = await kpath('--version');
    expect(v.out.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('kpath dns (offline)', () => {
  it('query answers from the model in dig layout', async () => {
    const r = await kpath('dns', 'query', 'kube-dns.kube-system.svc.cluster.local');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/status: NOERROR/);
    expect(r.out).toMatch(/^kube-dns\.kube-system\.svc\.cluster\.local\.\s+30\s+IN\s+A\s+10\.96\.0\.10$/m);
    const nx = await kpath('dns', 'query', 'nope.default.svc.cluster.local', 'AAAA');
    expect(nx.out).toMatch(/status: NXDOMAIN/);
    expect(nx.out).toMatch(/AUTHORITY SECTION:\ncluster\.local\.\s+30\s+IN\s+SOA/);
  });

  it('resolve shows the search-path amplification', async () => {
    const r = await kpath('dns', 'resolve', 'cart.shop', '--from', 'pod/default/client');
    expect(r.out).toContain(
      'nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5',
    );
    expect(r.out).toMatch(/ 1 {2}A {4}cart\.shop\.default\.svc\.cluster\.local\.\s+NXDOMAIN/);
    expect(r.out).toMatch(/ 3 {2}A {4}cart\.shop\.svc\.cluster\.local\.\s+NOERROR {2}A 10\./);
    expect(r.out).toMatch(/resolved as cart\.shop\.svc\.cluster\.local\. after 4 queries/);
  });
});

describe('kpath rules', () => {
  it('prints what iptables-save shows on the node, with kube-proxy chains and jumps', async () => {
    const r = await kpath('rules', '--node', 'worker-1');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^\*mangle\n/);
    expect(r.out).toContain(
      '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    );
    // kube-dns: the well-known chain names of real clusters.
    expect(r.out).toContain(':KUBE-SVC-TCOU7JCQXEZGVUNU - [0:0]');
    expect(r.out).toContain(':KUBE-SVC-ERIFXISQEP7F7OF4 - [0:0]');
    expect(r.out).toMatch(
      /-A KUBE-SERVICES -d 10\.96\.0\.10\/32 -p udp -m comment --comment "kube-system\/kube-dns:dns cluster IP" -m udp --dport 53 -j KUBE-SVC-TCOU7JCQXEZGVUNU/,
    );
    expect(r.out).toContain(
      '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
    );
  });

  it('--format restore --table nat is the payload kube-proxy writes, --diff the partial sync', async () => {
    const r = await kpath('rules', '--format', 'restore', '--table', 'nat');
    expect(r.out).toMatch(/^\*nat\n/);
    expect(r.out).toMatch(
      /-A KUBE-SERVICES -m comment --comment "kube-system\/kube-dns:dns cluster IP" -m udp -p udp -d 10\.96\.0\.10 --dport 53 -j KUBE-SVC-TCOU7JCQXEZGVUNU/,
    );
    expect(r.out.trim().endsWith('COMMIT')).toBe(true);
    const d = await kpath('rules', '--diff', 'examples/demo', '--node', 'worker-1');
    expect(d.code).toBe(0);
    expect(d.err).toMatch(/0 service\(s\) rewritten, 0 chain\(s\) deleted/);
  });

  it('an unknown node is named with the ones that exist', async () => {
    const r = await kpath('rules', '--node', 'nope');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/node "nope" does not exist \(nodes: control-plane, worker-1, worker-2\)/);
  });
});
