/**
 * `kpath get` with kubectl's habits. Expected layouts follow kubectl's get.go (one tabwriter per
 * resource, a blank line between tables when headers are on, TYPE/NAME when several kinds print) and
 * printers.GetNewTabWriter (minwidth 6, padding 3); column sets follow
 * kubernetes/pkg/printers/internalversion/printers.go.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderRows } from '../../cli/format/table.js';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import { matchesTerms, parseSelector } from '../../netmodel/cluster/index.js';

async function kpath(...argv: string[]) {
  const io = bufferIO();
  const code = await main(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

const DS = `apiVersion: v1
kind: Node
metadata: {name: n1}
---
apiVersion: v1
kind: Node
metadata: {name: n2, labels: {disk: ssd}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: default, labels: {app: agent}}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      nodeSelector: {disk: ssd}
      containers: [{name: a, image: kpath/echo}, {name: b, image: busybox}]
`;

describe('kpath get: names and errors as kubectl', () => {
  it('a missing name is NotFound with exit 1; what was found still prints', async () => {
    const r = await kpath('get', 'svc', 'nope');
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toBe('Error from server (NotFound): services "nope" not found\n');
    const both = await kpath('get', 'svc', 'web', 'nope');
    expect(both.code).toBe(1);
    expect(both.out).toMatch(/^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE\nweb\s+ClusterIP\s/);
    expect(both.err).toBe('Error from server (NotFound): services "nope" not found\n');
    const deploy = await kpath('get', 'deploy/nope', '-o', 'json');
    expect(deploy.code).toBe(1);
    expect(deploy.out).toBe('');
    expect(deploy.err).toBe('Error from server (NotFound): deployments.apps "nope" not found\n');
  });

  it('several types print one table each, a blank line apart, with TYPE/NAME names', async () => {
    const r = await kpath('get', 'svc,ep', '-n', 'data');
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines.slice(0, 3)).toEqual([
      'NAME         TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)    AGE',
      'service/db   ClusterIP   None         <none>        5432/TCP   <unknown>',
      '',
    ]);
    // Columns are as wide as the longest cell (the addresses' lengths vary).
    expect(lines[3]).toMatch(/^NAME {11}ENDPOINTS +AGE$/);
    expect(lines[3]!.indexOf('AGE')).toBe(lines[4]!.indexOf('<unknown>'));
    expect(lines[4]).toMatch(/^endpoints\/db +10\.244\.\d\.\d+:5432,10\.244\.\d\.\d+:5432 +<unknown>$/);
    expect(lines.slice(5)).toEqual(['']);
  });

  it('TYPE/NAME: one kind prints plain names, several kinds prefixed ones', async () => {
    const one = await kpath('get', 'svc/web');
    expect(one.out.split('\n')[1]).toMatch(/^web\s+ClusterIP/);
    const two = await kpath('get', 'svc/web', 'deploy/web');
    expect(two.out).toMatch(/^service\/web\s+ClusterIP/m);
    expect(two.out).toMatch(/^deployment\.apps\/web\s+3\/3\s+3\s+3\s+<unknown>$/m);
    expect(two.out).toContain('\n\nNAME  ');
    const mixed = await kpath('get', 'svc', 'svc/web');
    expect(mixed.code).toBe(2);
    expect(mixed.err).toMatch(/no need to specify a resource type as a separate argument/);
  });

  it('--no-headers drops header lines and the blank lines between tables', async () => {
    const r = await kpath('get', 'svc,ep', '-n', 'data', '--no-headers');
    const lines = r.out.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^service\/db\s+ClusterIP\s+None/);
    expect(lines[1]).toMatch(/^endpoints\/db\s+10\.244\./);
  });

  it('an empty result says so on stderr, as kubectl does', async () => {
    const r = await kpath('get', 'pods', '-l', 'app=nothing');
    expect(r.code).toBe(0);
    expect(r.out).toBe('');
    expect(r.err).toBe('No resources found in default namespace.\n');
    expect((await kpath('get', 'nodes', '-l', 'x=y')).err).toBe('No resources found\n');
  });
});

describe('kpath get: selectors and labels', () => {
  it('-l with equality, inequality, set-based and !key requirements', async () => {
    const names = async (...a: string[]) =>
      (await kpath('get', 'pods', '-A', '-o', 'name', ...a)).out.trim().split('\n').filter(Boolean);
    const web = await names('-l', 'app=web');
    expect(web).toHaveLength(3);
    expect(web.every((n) => n.startsWith('pod/web-'))).toBe(true);
    expect(await names('--selector', 'app in (web,db)')).toHaveLength(5);
    const notWeb = await names('-l', 'app!=web');
    expect(notWeb.some((n) => n.startsWith('pod/web-'))).toBe(false);
    expect(notWeb.some((n) => n.startsWith('pod/coredns-'))).toBe(true); // no app label: != matches
    const noApp = await names('-l', '!app');
    expect(noApp.every((n) => n.startsWith('pod/coredns-'))).toBe(true);
    expect(
      await names('-l', 'statefulset.kubernetes.io/pod-name,apps.kubernetes.io/pod-index notin (0)'),
    ).toEqual(['pod/db-1']);
    const bad = await kpath('get', 'pods', '-l', 'app in web');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/unable to parse requirement/);
  });

  it('selector semantics follow apimachinery labels.Parse', () => {
    const m = (sel: string, labels: Record<string, string>) => matchesTerms(parseSelector(sel), labels);
    expect(m('', {})).toBe(true);
    expect(m('a=b', { a: 'b' })).toBe(true);
    expect(m('a==b', { a: 'c' })).toBe(false);
    expect(m('a!=b', {})).toBe(true);
    expect(m('a notin (b,c)', {})).toBe(true);
    expect(m('a in (b,c)', {})).toBe(false);
    expect(m('a,!b', { a: '' })).toBe(true);
    expect(m('a>3', { a: '4' })).toBe(true);
    expect(m('a<3', { a: 'x' })).toBe(false);
    expect(() => parseSelector('a>b')).toThrow(/must be an integer/);
  });

  it('--show-labels adds a LABELS column with the labels sorted by key', async () => {
    const r = await kpath('get', 'pod', 'db-0', '-n', 'data', '--show-labels');
    expect(r.out.split('\n')[0]).toMatch(/\s+AGE\s+LABELS$/);
    expect(r.out).toMatch(
      /<unknown>\s+app=db,apps\.kubernetes\.io\/pod-index=0,controller-revision-hash=db-[a-z0-9]+,statefulset\.kubernetes\.io\/pod-name=db-0$/m,
    );
    expect((await kpath('get', 'svc', 'web', '--show-labels')).out).toMatch(/<unknown>\s+<none>$/m);
  });
});

describe('kpath get: workloads as resources', () => {
  it('deployments, replicasets and statefulsets with kubectl columns, -o wide adding containers, images, selector', async () => {
    const d = await kpath('get', 'deploy', '-o', 'wide');
    expect(d.out).toBe(
      'NAME   READY   UP-TO-DATE   AVAILABLE   AGE         CONTAINERS   IMAGES       SELECTOR\n' +
        'web    3/3     3            3           <unknown>   echo         kpath/echo   app=web\n',
    );
    const rs = await kpath('get', 'rs');
    expect(rs.out).toMatch(
      /^NAME\s+DESIRED\s+CURRENT\s+READY\s+AGE\nweb-[a-z0-9]{8,10}\s+3\s+3\s+3\s+<unknown>\n$/,
    );
    const sts = await kpath('get', 'statefulsets', '-n', 'data', '-o', 'wide');
    expect(sts.out).toBe(
      'NAME   READY   AGE         CONTAINERS   IMAGES\ndb     2/2     <unknown>   postgres     kpath/echo\n',
    );
    // The ReplicaSet's pods are the deployment's: names carry its pod-template-hash.
    const rsName = rs.out.split('\n')[1]!.split(' ')[0]!;
    const pods = (await kpath('get', 'pods', '-l', 'app=web', '-o', 'name')).out;
    expect(
      pods
        .split('\n')
        .filter(Boolean)
        .every((p) => p.startsWith(`pod/${rsName}-`)),
    ).toBe(true);
  });

  it('daemonsets: one pod per node its nodeSelector allows, kubectl columns', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpath-get-'));
    writeFileSync(join(dir, 'ds.yaml'), DS);
    const r = await kpath('get', 'ds', '-f', join(dir, 'ds.yaml'), '-o', 'wide');
    expect(r.out).toBe(
      'NAME    DESIRED   CURRENT   READY   UP-TO-DATE   AVAILABLE   NODE SELECTOR   AGE         CONTAINERS   IMAGES               SELECTOR\n' +
        'agent   1         1         1       1            1           disk=ssd        <unknown>   a,b          kpath/echo,busybox   app=agent\n',
    );
    const json = JSON.parse(
      (await kpath('get', 'ds', 'agent', '-f', join(dir, 'ds.yaml'), '-o', 'json')).out,
    );
    expect(json.kind).toBe('DaemonSet');
    expect(json.status.desiredNumberScheduled).toBe(1);
  });

  it('every resource has -o wide', async () => {
    for (const t of ['pods', 'svc', 'ep', 'endpointslices', 'nodes', 'ns', 'deploy', 'rs', 'sts', 'ds']) {
      const r = await kpath('get', t, '-A', '-o', 'wide');
      expect(r.code, t).toBe(0);
    }
    expect((await kpath('get', 'nodes', '-o', 'wide')).out.split('\n')[0]).toMatch(
      /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\s+INTERNAL-IP\s+EXTERNAL-IP\s+OS-IMAGE\s+KERNEL-VERSION\s+CONTAINER-RUNTIME$/,
    );
  });
});

describe('kpath get: -o jsonpath and custom-columns', () => {
  it('jsonpath over a List and over one named object', async () => {
    const r = await kpath('get', 'svc', '-o', 'jsonpath={.items[*].metadata.name}');
    expect(r.out).toBe('web web-nodeport');
    const np = await kpath(
      'get',
      'svc',
      '-o',
      'jsonpath={range .items[?(@.spec.type=="NodePort")]}{.metadata.name}{"\\t"}{.spec.ports[0].nodePort}{"\\n"}{end}',
    );
    expect(np.out).toBe('web-nodeport\t30080\n');
    const one = await kpath('get', 'svc/web', '-o', 'jsonpath={.spec.ports[0].targetPort}');
    expect(one.out).toBe('http');
    const bad = await kpath('get', 'svc', '-o', 'jsonpath={.items');
    expect(bad.code).toBe(2);
    expect(bad.err).toBe('error: error parsing jsonpath {.items, unclosed action\n');
  });

  it('custom-columns: headers as given, <none> for missing, kubectl minimum width', async () => {
    const r = await kpath(
      'get',
      'nodes',
      '-o',
      'custom-columns=NAME:.metadata.name,CIDR:.spec.podCIDR,X:.nope',
    );
    expect(r.out).toBe(
      'NAME            CIDR            X\n' +
        'control-plane   10.244.0.0/24   <none>\n' +
        'worker-1        10.244.1.0/24   <none>\n' +
        'worker-2        10.244.2.0/24   <none>\n',
    );
    const s = await kpath(
      'get',
      'sts',
      'db',
      '-n',
      'data',
      '-o',
      'custom-columns=N:.metadata.name,S:.spec.selector',
    );
    expect(s.out).toBe('N     S\ndb    map[matchLabels:map[app:db]]\n');
    const bad = await kpath('get', 'pods', '-o', 'custom-columns=NAME');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/expected <header>:<json-path-expr>/);
  });

  it("the table printer pads to max(widest + 3, 6) as Go's tabwriter does for kubectl", () => {
    expect(
      renderRows([
        ['A', 'B', 'C'],
        ['xx', 'longer-cell', ''],
      ]),
    ).toBe('A     B             C\nxx    longer-cell   \n');
  });
});

describe('usage errors', () => {
  it('print the error once and a short usage line, not the whole help', async () => {
    const r = await kpath('get', 'pods', '--bogus');
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      "error: Unknown argument: bogus\nusage: kpath get <resources..> [options]  (see 'kpath get --help' for more)\n",
    );
    const none = await kpath();
    expect(none.err.split('\n')).toHaveLength(3);
  });
});
