import { describe, expect, it } from 'vitest';
import { buildCluster, formatDiagnostic } from '../../netmodel/cluster/index.js';
import { clusterCfg, deployment, errorsOf, node, pod, snapshotOf, svc } from '../helpers/cluster.js';

/** The one error expected, by field path, with a message fragment. */
function expectError(errors: ReturnType<typeof errorsOf>, field: string, fragment: string | RegExp) {
  const hit = errors.find((e) => e.field === field);
  expect(hit, `no error on ${field}; got:\n${errors.map(formatDiagnostic).join('\n')}`).toBeDefined();
  expect(hit!.message).toMatch(fragment);
}

describe('validation like the apiserver', () => {
  it('names: Services are DNS-1035 labels, Pods DNS-1123 subdomains, namespaces labels', () => {
    expectError(errorsOf(svc('1web')), 'metadata.name', /DNS-1035/);
    expectError(errorsOf(svc('Web')), 'metadata.name', /DNS-1035/);
    expectError(errorsOf(pod('Bad_Pod')), 'metadata.name', /RFC 1123 subdomain/);
    expect(errorsOf(pod('a.b-c'))).toEqual([]);
    expectError(errorsOf(pod('p', { namespace: 'Prod' })), 'metadata.namespace', /RFC 1123 label/);
    expectError(errorsOf(svc('x'.repeat(64))), 'metadata.name', /63 characters/);
  });

  it('a missing name, kind or apiVersion', () => {
    expectError(
      errorsOf({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {},
        spec: { containers: [{ name: 'c', image: 'i' }] },
      }),
      'metadata.name',
      /required/,
    );
    expectError(errorsOf({ apiVersion: 'v1', metadata: { name: 'x' } }), 'kind', /required/);
    expectError(errorsOf({ kind: 'Service', metadata: { name: 'x' } }), 'apiVersion', /required/);
    expectError(
      errorsOf({ apiVersion: 'apps/v1beta1', kind: 'Deployment', metadata: { name: 'x' } }),
      'apiVersion',
      /use apps\/v1/,
    );
  });

  it('labels: keys are qualified names, values at most 63 characters', () => {
    expectError(
      errorsOf(pod('p', { labels: { 'bad key!': 'x' } })),
      'metadata.labels.bad key!',
      /invalid label key/,
    );
    expectError(
      errorsOf(pod('p', { labels: { app: 'x'.repeat(64) } })),
      'metadata.labels.app',
      /63 characters/,
    );
    expectError(errorsOf(pod('p', { labels: { app: 'a b' } })), 'metadata.labels.app', /invalid label value/);
  });

  it('service ports: range, names, duplicates, protocols, targetPort', () => {
    expectError(errorsOf(svc('a', { ports: [{ port: 0 }] })), 'spec.ports[0].port', /between 1 and 65535/);
    expectError(
      errorsOf(svc('a', { ports: [{ port: 65536 }] })),
      'spec.ports[0].port',
      /between 1 and 65535/,
    );
    expectError(
      errorsOf(svc('a', { ports: [{ port: 80 }, { name: 'b', port: 81 }] })),
      'spec.ports[0].name',
      /required/,
    );
    expectError(
      errorsOf(
        svc('a', {
          ports: [
            { name: 'x', port: 80 },
            { name: 'x', port: 81 },
          ],
        }),
      ),
      'spec.ports[1].name',
      /duplicate port name/,
    );
    expectError(
      errorsOf(
        svc('a', {
          ports: [
            { name: 'x', port: 80 },
            { name: 'y', port: 80 },
          ],
        }),
      ),
      'spec.ports[1]',
      /duplicate port 80\/TCP/,
    );
    expect(
      errorsOf(
        svc('a', {
          ports: [
            { name: 'x', port: 53, protocol: 'UDP' },
            { name: 'y', port: 53 },
          ],
        }),
      ),
    ).toEqual([]);
    expectError(
      errorsOf(svc('a', { ports: [{ port: 80, protocol: 'ICMP' }] })),
      'spec.ports[0].protocol',
      /supported values: "TCP", "UDP", "SCTP"/,
    );
    expectError(
      errorsOf(svc('a', { ports: [{ port: 80, targetPort: 70000 }] })),
      'spec.ports[0].targetPort',
      /between 1 and 65535/,
    );
    // SetDefaults_Service: targetPort 0 or "" (a Go client that leaves it out sends 0) is the port.
    for (const targetPort of [0, '']) {
      const snap = snapshotOf(svc('a', { ports: [{ port: 8080, targetPort }] }));
      expect(snap.service('default', 'a')?.ports[0]?.targetPort).toBe(8080);
    }
    expectError(
      errorsOf(svc('a', { ports: [{ port: 80, targetPort: -1 }] })),
      'spec.ports[0].targetPort',
      /between 1 and 65535/,
    );
    expectError(
      errorsOf(svc('a', { ports: [{ port: 80, targetPort: 'web--port' }] })),
      'spec.ports[0].targetPort',
      /consecutive hyphens/,
    );
    expectError(
      errorsOf(svc('a', { ports: [{ port: 80, targetPort: 'a-very-long-port-name' }] })),
      'spec.ports[0].targetPort',
      /15 characters/,
    );
    expectError(errorsOf(svc('a', { ports: [] })), 'spec.ports', /at least one port/);
    expect(errorsOf(svc('a', { clusterIP: 'None', ports: [] }))).toEqual([]);
  });

  it('node ports: only for NodePort/LoadBalancer, inside the range, not taken twice', () => {
    expectError(
      errorsOf(svc('a', { ports: [{ port: 80, nodePort: 30001 }] })),
      'spec.ports[0].nodePort',
      /may not be used when type is "ClusterIP"/,
    );
    expectError(
      errorsOf(svc('a', { type: 'NodePort', ports: [{ port: 80, nodePort: 29999 }] })),
      'spec.ports[0].nodePort',
      /not in the node port range 30000-32767/,
    );
    const dup = errorsOf(
      svc('a', { type: 'NodePort', ports: [{ port: 80, nodePort: 30001 }] }),
      svc('b', { type: 'NodePort', ports: [{ port: 80, nodePort: 30001 }] }),
    );
    expectError(dup, 'spec.ports[0].nodePort', /already allocated to service default\/a/);
    expect(dup[0]!.object).toEqual({ kind: 'Service', namespace: 'default', name: 'b' });
    expect(
      errorsOf(
        clusterCfg({ nodePortRange: '20000-20010' }),
        svc('a', { type: 'NodePort', ports: [{ port: 80, nodePort: 20005 }] }),
      ),
    ).toEqual([]);
    // The same node port for TCP and UDP of one service is allowed.
    expect(
      errorsOf(
        svc('dns', {
          type: 'NodePort',
          ports: [
            { name: 'u', port: 53, protocol: 'UDP', nodePort: 30053 },
            { name: 't', port: 53, nodePort: 30053 },
          ],
        }),
      ),
    ).toEqual([]);
  });

  it('cluster IPs: inside the service CIDR, not reserved, not taken twice, valid', () => {
    expectError(
      errorsOf(svc('a', { clusterIP: '10.200.0.1' })),
      'spec.clusterIP',
      /not in the service CIDR 10\.96\.0\.0\/12/,
    );
    expectError(errorsOf(svc('a', { clusterIP: '10.96.0.0' })), 'spec.clusterIP', /network address/);
    expectError(errorsOf(svc('a', { clusterIP: '10.111.255.255' })), 'spec.clusterIP', /broadcast/);
    expectError(errorsOf(svc('a', { clusterIP: '10.96.0.300' })), 'spec.clusterIP', /not a valid IP address/);
    expectError(errorsOf(svc('a', { clusterIP: '010.96.0.3' })), 'spec.clusterIP', /not a valid IP address/);
    const dup = errorsOf(svc('a', { clusterIP: '10.96.0.10' }), svc('b', { clusterIP: '10.96.0.10' }));
    expectError(dup, 'spec.clusterIP', /already allocated to service default\/a/);
    expectError(errorsOf(svc('a', { clusterIP: 'fd00::10' })), 'spec.clusterIP', /no IPv6 service CIDR/);
    expectError(
      errorsOf(svc('a', { clusterIP: '10.96.0.5', clusterIPs: ['10.96.0.6'] })),
      'spec.clusterIPs[0]',
      /must match spec\.clusterIP/,
    );
  });

  it('headless, ExternalName and type rules', () => {
    expectError(
      errorsOf(svc('a', { type: 'NodePort', clusterIP: 'None' })),
      'spec.clusterIP',
      /may not be "None" for NodePort/,
    );
    expectError(errorsOf(svc('a', { type: 'ExternalName', ports: [] })), 'spec.externalName', /required/);
    expectError(
      errorsOf(svc('a', { type: 'ExternalName', externalName: 'Not_A_Host' })),
      'spec.externalName',
      /RFC 1123 subdomain/,
    );
    expectError(
      errorsOf(svc('a', { type: 'ExternalName', externalName: 'db.example.com', clusterIP: '10.96.0.50' })),
      'spec.clusterIP',
      /must be empty for ExternalName/,
    );
    expect(errorsOf(svc('a', { type: 'ExternalName', externalName: 'db.example.com.' }))).toEqual([]);
    expectError(errorsOf(svc('a', { type: 'Ingress' })), 'spec.type', /supported values/);
  });

  it('session affinity timeout is 1..86400 and only with ClientIP', () => {
    const aff = (t: number) =>
      svc('a', { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: t } } });
    expectError(
      errorsOf(aff(0)),
      'spec.sessionAffinityConfig.clientIP.timeoutSeconds',
      /between 1 and 86400/,
    );
    expectError(
      errorsOf(aff(86401)),
      'spec.sessionAffinityConfig.clientIP.timeoutSeconds',
      /between 1 and 86400/,
    );
    expect(errorsOf(aff(1))).toEqual([]);
    expect(errorsOf(aff(86400))).toEqual([]);
    expectError(
      errorsOf(svc('a', { sessionAffinityConfig: { clientIP: { timeoutSeconds: 5 } } })),
      'spec.sessionAffinityConfig',
      /must not be set when sessionAffinity is None/,
    );
    expectError(
      errorsOf(svc('a', { sessionAffinity: 'Cookie' })),
      'spec.sessionAffinity',
      /supported values/,
    );
  });

  it('traffic policies, health check node port, external IPs, source ranges', () => {
    expectError(
      errorsOf(svc('a', { externalTrafficPolicy: 'Local' })),
      'spec.externalTrafficPolicy',
      /externally-accessible/,
    );
    expect(errorsOf(svc('a', { externalIPs: ['192.0.2.10'], externalTrafficPolicy: 'Local' }))).toEqual([]);
    expectError(
      errorsOf(svc('a', { type: 'NodePort', healthCheckNodePort: 30500 })),
      'spec.healthCheckNodePort',
      /LoadBalancer and externalTrafficPolicy is Local/,
    );
    expectError(errorsOf(svc('a', { externalIPs: ['127.0.0.5'] })), 'spec.externalIPs[0]', /loopback/);
    expectError(errorsOf(svc('a', { externalIPs: ['nope'] })), 'spec.externalIPs[0]', /not a valid IP/);
    expectError(
      errorsOf(svc('a', { type: 'LoadBalancer', loadBalancerSourceRanges: ['10.0.0.0/33'] })),
      'spec.loadBalancerSourceRanges[0]',
      /not a valid CIDR/,
    );
    // kube-proxy normalises whitespace and zero padding instead of failing.
    const r = buildCluster([
      {
        file: 't.yaml',
        text: 'apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n  type: LoadBalancer\n  loadBalancerSourceRanges: [" 203.0.113.0/25"]\n  ports: [{port: 80}]\n',
      },
    ]);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.snapshot.services[0]!.loadBalancerSourceRanges[0]!.text).toBe('203.0.113.0/25');
  });

  it('workloads: selector required and must match the template labels', () => {
    const d = deployment('api', 2);
    (d.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels = {
      app: 'other',
    };
    expectError(
      errorsOf(d),
      'spec.template.metadata.labels',
      /selector \(app=api\) does not match template labels/,
    );
    const noSel = deployment('api', 1);
    delete (noSel.spec as Record<string, unknown>).selector;
    expectError(errorsOf(noSel), 'spec.selector', /required/);
    const neg = deployment('api', -1);
    expectError(errorsOf(neg), 'spec.replicas', /between 0/);
    const sts = {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'db' },
      spec: {
        selector: { matchExpressions: [{ key: 'app', operator: 'In', values: [] }] },
        template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
      },
    };
    expectError(errorsOf(sts), 'spec.selector.matchExpressions[0].values', /non-empty when operator is In/);
  });

  it('pods: containers, container and port names, ports', () => {
    expectError(
      errorsOf({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [] } }),
      'spec.containers',
      /at least one container/,
    );
    expectError(
      errorsOf(
        pod('p', {
          spec: {
            containers: [
              { name: 'a', image: 'i' },
              { name: 'a', image: 'i' },
            ],
          },
        }),
      ),
      'spec.containers[1].name',
      /duplicate container name/,
    );
    expectError(
      errorsOf(pod('p', { ports: [{ containerPort: 0 }] })),
      'spec.containers[0].ports[0].containerPort',
      /between 1 and 65535/,
    );
    expectError(
      errorsOf(pod('p', { ports: [{ name: 'HTTP', containerPort: 80 }] })),
      'spec.containers[0].ports[0].name',
      /alpha-numeric/,
    );
    expectError(
      errorsOf(
        pod('p', {
          ports: [
            { name: 'web', containerPort: 80 },
            { name: 'web', containerPort: 81 },
          ],
        }),
      ),
      'spec.containers[0].ports[1].name',
      /duplicate port name/,
    );
    expectError(errorsOf(pod('p', { nodeName: 'ghost' })), 'spec.nodeName', /node "ghost" does not exist/);
  });

  it('addresses inside their CIDRs: node pod CIDRs, pod IPs', () => {
    expectError(
      errorsOf(node('n1', { podCIDR: '10.245.0.0/24' })),
      'spec.podCIDR',
      /outside the cluster pod CIDR 10\.244\.0\.0\/16/,
    );
    expectError(errorsOf(node('n1', { podCIDR: '10.244.0.1/24' })), 'spec.podCIDR', /zero host bits/);
    expectError(
      errorsOf(node('n1', { podCIDR: '10.244.1.0/24' }), node('n2', { podCIDR: '10.244.1.0/24' })),
      'spec.podCIDR',
      /already assigned/,
    );
    expectError(
      errorsOf(
        node('n1', { podCIDR: '10.244.1.0/24' }),
        pod('p', { nodeName: 'n1', status: { phase: 'Running', podIP: '10.244.2.5' } }),
      ),
      'status.podIP',
      /not in node n1's pod CIDR 10\.244\.1\.0\/24/,
    );
    expectError(
      errorsOf(
        node('n1', { podCIDR: '10.244.1.0/24' }),
        pod('a', { nodeName: 'n1', status: { podIP: '10.244.1.5' } }),
        pod('b', { nodeName: 'n1', status: { podIP: '10.244.1.5' } }),
      ),
      'status.podIP',
      /already the address of pod default\/a/,
    );
    expectError(
      errorsOf(clusterCfg({ serviceCIDR: '10.244.0.0/20' })),
      'spec.serviceCIDR',
      /overlaps the pod CIDR/,
    );
    expectError(
      errorsOf(clusterCfg({ serviceCIDR: '10.96.0.0/12,10.97.0.0/16' })),
      'spec.serviceCIDR',
      /one IPv4 and one IPv6/,
    );
    expectError(errorsOf(clusterCfg({ nodePortRange: '32000-31000' })), 'spec.nodePortRange', /port range/);
    expectError(errorsOf(clusterCfg({ dns: { pods: 'sometimes' } })), 'spec.dns.pods', /insecure/);
  });

  it('kube-proxy configuration', () => {
    const kp = (o: Record<string, unknown>) => ({
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      ...o,
    });
    expectError(errorsOf(kp({ mode: 'ebpf' })), 'mode', /supported values/);
    expectError(
      errorsOf(kp({ iptables: { masqueradeBit: 32 } })),
      'iptables.masqueradeBit',
      /between 0 and 31/,
    );
    expectError(errorsOf(kp({ ipvs: { scheduler: 'fastest' } })), 'ipvs.scheduler', /"rr"/);
    expectError(errorsOf(kp({ clusterCIDR: '10.244.0.0/33' })), 'clusterCIDR', /not a valid CIDR/);
    expectError(
      errorsOf(kp({ detectLocalMode: 'BridgeInterface' })),
      'detectLocal.bridgeInterface',
      /required/,
    );
    expectError(errorsOf(kp({ nodePortAddresses: ['10.0.0.1'] })), 'nodePortAddresses[0]', /CIDR/);
  });

  it('duplicates and unknown kinds', () => {
    expectError(
      errorsOf(svc('a'), svc('a')),
      'metadata.name',
      /duplicate Service "default\/a" \(first defined at test\.yaml:1:1\)/,
    );
    expect(errorsOf(svc('a'), svc('a', {}, { namespace: 'other' }))).toEqual([]);
    const r = buildCluster([
      { file: 't.yaml', text: 'apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: x}\n' },
    ]);
    expect(r.ok).toBe(true);
    expect(r.diagnostics.map((d) => d.message)).toContain(
      'Ingress (networking.k8s.io/v1) does not change the network kpath models; ignored 1 object of this kind',
    );
  });

  it('reports every error with file:line:column, in file order', () => {
    const text = [
      'apiVersion: v1', //                        1
      'kind: Service', //                         2
      'metadata:', //                             3
      '  name: web', //                           4
      'spec:', //                                 5
      '  ports:', //                              6
      '    - port: 70000', //                     7
      '      protocol: tcp', //                   8
      '---', //                                   9
      'apiVersion: v1', //                        10
      'kind: Service', //                         11
      'metadata: {name: db}', //                  12
      'spec:', //                                 13
      '  clusterIP: 10.1.2.3', //                 14
      '  ports: [{port: 5432}]', //               15
    ].join('\n');
    const r = buildCluster([{ file: 'cluster.yaml', text }]);
    expect(r.ok).toBe(false);
    const lines = r.diagnostics.map(formatDiagnostic);
    expect(lines).toEqual([
      'cluster.yaml:7:13: error: Service default/web: spec.ports[0].port: must be between 1 and 65535, inclusive (got 70000)',
      'cluster.yaml:8:17: error: Service default/web: spec.ports[0].protocol: unsupported value "tcp": supported values: "TCP", "UDP", "SCTP"',
      'cluster.yaml:14:14: error: Service default/db: spec.clusterIP: 10.1.2.3 is not in the service CIDR 10.96.0.0/12',
    ]);
  });

  it('YAML syntax errors name the position and load nothing from that document', () => {
    const r = buildCluster([
      { file: 'bad.yaml', text: 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\n' },
    ]);
    expect(r.ok).toBe(false);
    expect(r.diagnostics[0]!.pos?.file).toBe('bad.yaml');
    expect(r.diagnostics[0]!.message).toMatch(/^YAML syntax/);
  });
});
