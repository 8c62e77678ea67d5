/** DockerHost fixtures for the tests: YAML through the real pipeline, then dockerd's plan. */
import { buildCluster, formatDiagnostic } from '../../netmodel/cluster/index.js';
import { type DockerPlan, planDockerHost } from '../../netmodel/docker/index.js';

export function dockerHostYaml(opts: { proxy: boolean; version?: string; extra?: string }): string {
  return `apiVersion: kpath.dev/v1alpha1
kind: DockerHost
metadata: {name: host}
spec:
  address: 192.0.2.10/24
  engine: {version: "${opts.version ?? '20.10'}", userlandProxy: ${opts.proxy}}
  networks: [{name: kpnet}]
  containers:
    - {name: web, image: nginx, ports: ["8080:80"]}
    - {name: api, image: httpd, network: kpnet, ports: ["127.0.0.1:9000:90/udp"]}
    - {name: db, image: redis, network: kpnet}
${opts.extra ?? ''}`;
}

export function planOf(text: string): DockerPlan {
  const r = buildCluster([{ file: 'host.yaml', text }]);
  if (!r.ok) throw new Error(r.diagnostics.map(formatDiagnostic).join('\n'));
  const { plan, problems } = planDockerHost(r.snapshot.dockerHosts[0]!);
  if (problems.length) throw new Error(problems.map((p) => p.message).join('\n'));
  return plan;
}

/** iptables-save without its comment lines (version banner, timestamps). */
export function stripSave(text: string): string {
  return text
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .join('\n');
}

/** --icc=false on docker0, an --internal network and an enable_icc=false one (secret 172.18/16, quiet 172.19/16). */
export const ICC_HOST = `apiVersion: kpath.dev/v1alpha1
kind: DockerHost
metadata: {name: host}
spec:
  address: 192.0.2.10/24
  engine: {version: "20.10", userlandProxy: true, icc: false}
  networks:
    - {name: secret, internal: true}
    - {name: quiet, options: {com.docker.network.bridge.enable_icc: "false"}}
  containers:
    - {name: web, image: nginx, ports: ["8080:80"]}
    - {name: web2, image: nginx}
    - {name: vault, image: vault, network: secret}
    - {name: vault2, image: vault, network: secret}
    - {name: q1, image: alpine, network: quiet}
    - {name: q2, image: alpine, network: quiet}
`;
