/**
 * Strict decoding as the apiserver does it: unknown fields and unknown kinds of built-in groups are
 * errors (with file:line:column and the field path), kinds kpath does not model are one warning per
 * kind, empty documents are skipped, and `-n` fills in missing namespaces. Real charts (test/fixtures/
 * charts, fetched from their repositories) decode with no false unknown-field errors.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildCluster, type Diagnostic, formatDiagnostic } from '../../netmodel/cluster/index.js';

const CHARTS = join(import.meta.dirname, '../fixtures/charts');

function build(text: string, namespace?: string) {
  return buildCluster([{ file: 'm.yaml', text }], namespace !== undefined ? { namespace } : {});
}
const errors = (ds: readonly Diagnostic[]) => ds.filter((d) => d.severity === 'error').map(formatDiagnostic);
const warnings = (ds: readonly Diagnostic[]) =>
  ds.filter((d) => d.severity === 'warning').map(formatDiagnostic);

const service = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selectr:
    app: web
  ports:
    - port: 80
      targtPort: 8080
      protocl: TCP
`;

describe('unknown fields', () => {
  it('are errors with file:line:column, the object, the field path and a hint', () => {
    const r = build(service);
    expect(r.ok).toBe(false);
    expect(errors(r.diagnostics)).toEqual([
      'm.yaml:6:3: error: Service default/web: spec.selectr: unknown field "spec.selectr" (did you mean "selector"?)',
      'm.yaml:10:7: error: Service default/web: spec.ports[0].targtPort: unknown field "spec.ports[0].targtPort" (did you mean "targetPort"?)',
      'm.yaml:11:7: error: Service default/web: spec.ports[0].protocl: unknown field "spec.ports[0].protocl" (did you mean "protocol"?)',
    ]);
  });

  it('are found inside a workload template, in containers, probes and metadata', () => {
    const r = build(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  lables: {a: b}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: c
          image: nginx
          imagePullPolicyy: Always
          readinessProbe:
            httpGet: {path: /, port: 80, schema: HTTP}
      tolerations:
        - key: k
          operater: Exists
`);
    expect(errors(r.diagnostics)).toEqual([
      'm.yaml:5:3: error: Deployment default/web: metadata.lables: unknown field "metadata.lables" (did you mean "labels"?)',
      'm.yaml:15:11: error: Deployment default/web: spec.template.spec.containers[0].imagePullPolicyy: unknown field "spec.template.spec.containers[0].imagePullPolicyy" (did you mean "imagePullPolicy"?)',
      'm.yaml:17:42: error: Deployment default/web: spec.template.spec.containers[0].readinessProbe.httpGet.schema: unknown field "spec.template.spec.containers[0].readinessProbe.httpGet.schema" (did you mean "scheme"?)',
      'm.yaml:20:11: error: Deployment default/web: spec.template.spec.tolerations[0].operater: unknown field "spec.template.spec.tolerations[0].operater" (did you mean "operator"?)',
    ]);
  });

  it('status is not judged (controllers write it), nor free-form maps such as labels or resources', () => {
    const r = build(`apiVersion: v1
kind: Pod
metadata:
  name: p
  labels: {anything: goes}
spec:
  containers:
    - name: c
      image: x
      resources: {limits: {cpu: 100m, nvidia.com/gpu: 1}}
status:
  whatever: 1
`);
    expect(errors(r.diagnostics)).toEqual([]);
  });

  it.each(readdirSync(CHARTS).filter((f) => f.endsWith('.yaml')))('real manifests decode: %s', (file) => {
    const r = buildCluster([{ file, text: readFileSync(join(CHARTS, file), 'utf8') }]);
    expect(errors(r.diagnostics)).toEqual([]);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.snapshot.pods.length).toBeGreaterThan(0);
    // Kinds kpath ignores are one warning each, never one per object.
    const kinds = warnings(r.diagnostics).filter((w) => /ignored \d+ objects? of this kind/.test(w));
    expect(new Set(kinds.map((w) => /warning: (\S+)/.exec(w)![1])).size).toBe(kinds.length);
  });
});

describe('KubeProxyConfiguration', () => {
  it('is strict as kube-proxy decodes its config file', () => {
    const r = build(
      'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: iptables\niptables:\n  masqueradeAl: true\nconntrack: {maxPerCore: 0}\n',
    );
    expect(errors(r.diagnostics)).toEqual([
      'm.yaml:5:3: error: KubeProxyConfiguration kube-proxy: iptables.masqueradeAl: unknown field "iptables.masqueradeAl" (did you mean "masqueradeAll"?)',
    ]);
  });
});

describe('kinds', () => {
  it.each([
    ['v1', 'Servce', 'Service'],
    ['apps/v1', 'Deploymnet', 'Deployment'],
    ['networking.k8s.io/v1', 'NetworkPolcy', 'NetworkPolicy'],
  ])('an unknown kind in a served group version is an error: %s %s', (apiVersion, kind, hint) => {
    const r = build(`apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata:\n  name: x\n`);
    expect(errors(r.diagnostics)).toEqual([
      `m.yaml:2:7: error: ${kind} x: kind: no matches for kind "${kind}" in version "${apiVersion}" (did you mean "${hint}"?)`,
    ]);
  });

  it('kinds kpath does not model: one warning per kind, at the first object, worded plainly', () => {
    const docs = [
      'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a}\n',
      'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: b}\n',
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: v}\n',
      'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: d}\n',
      'apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: e}\nspec: {anything: 1}\n',
    ];
    const r = build(docs.join('---\n'));
    expect(r.ok).toBe(true);
    expect(warnings(r.diagnostics)).toEqual([
      'm.yaml:1:1: warning: ServiceAccount (v1) does not change the network kpath models; ignored 3 objects of this kind',
      'm.yaml:9:1: warning: ConfigMap (v1) does not change the network kpath models; ignored 1 object of this kind',
      'm.yaml:18:1: warning: Certificate (cert-manager.io/v1) is a custom resource kpath does not know; ignored 1 object of this kind',
    ]);
  });
});

describe('empty documents', () => {
  it('trailing ---, comment-only documents (Helm # Source: stubs) and null are skipped', () => {
    const text = `---
# Source: chart/templates/empty.yaml
---
apiVersion: v1
kind: Namespace
metadata:
  name: a
---

---
# only a comment
---
null
---
`;
    const r = build(text);
    expect(r.diagnostics).toEqual([]);
    expect(r.ok && r.snapshot.namespaces.some((n) => n.meta.name === 'a' && !n.derived)).toBe(true);
  });
});

describe('-n NS', () => {
  const pod = (ns?: string) =>
    `apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n${ns ? `  namespace: ${ns}\n` : ''}spec:\n  containers: [{name: c, image: x}]\n`;

  it('sets the namespace of objects that name none', () => {
    const r = build(pod(), 'shop');
    expect(r.ok && r.snapshot.pod('shop', 'p')).toBeTruthy();
    expect(r.ok && r.snapshot.namespaces.some((n) => n.meta.name === 'shop')).toBe(true);
  });

  it("an object naming the same namespace is fine; another one is refused with kubectl's message", () => {
    expect(build(pod('shop'), 'shop').ok).toBe(true);
    const r = build(pod('a'), 'b');
    expect(errors(r.diagnostics)).toEqual([
      `m.yaml:5:14: error: Pod a/p: metadata.namespace: the namespace from the provided object "a" does not match the namespace "b". You must pass '--namespace=a' to perform this operation`,
    ]);
  });

  it('cluster-scoped kinds are untouched', () => {
    const r = build('apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n', 'shop');
    expect(r.ok && r.snapshot.node('n1')?.meta.namespace).toBe('');
  });
});
