/**
 * The real kubectl against `kpath up`: what it prints and what the running cluster does after each
 * command (the service listener answers from the pods kubectl's change made).
 */

import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { addrs, baseCluster, dial, echoDeployment, get, service } from '../up/helpers.js';
import { type Cluster, eventually, KUBECTL, kubectlStream, NO_KUBECTL, startCluster } from './helpers.js';

const SLOT = 30;
const a = addrs(SLOT);

function roundTrip(s: Socket, msg: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (d: Buffer) => {
      got += d.toString();
      if (got.length >= msg.length) {
        s.off('data', onData);
        resolve(got);
      }
    };
    s.on('data', onData);
    s.once('error', reject);
    s.write(msg);
  });
}

/** Pod names answering through the service listener at twin:port, over `n` fresh connections. */
async function answering(twin: string, port: number, n = 12): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const r = await get(twin, port);
    seen.add(String(r.json().pod));
  }
  return seen;
}

describe.skipIf(!KUBECTL)(`kubectl against kpath up${KUBECTL ? '' : ` (skipped: ${NO_KUBECTL})`}`, () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await startCluster(
      baseCluster(
        SLOT,
        echoDeployment('web', 2) +
          service('web', { ip: a.svcIP(20), port: 8000, type: 'NodePort', nodePort: a.nodePort(1) }),
      ),
    );
  }, 30_000);
  afterAll(async () => {
    await c?.stop();
  });

  it('get prints the Table columns kubectl prints, -o wide adds IP and NODE from the running pods', async () => {
    const r = await c.kubectl(['get', 'pods']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/);
    expect(lines).toHaveLength(3);
    for (const l of lines.slice(1))
      expect(l).toMatch(/^web-[a-z0-9]{10}-[a-z0-9]{5}\s+1\/1\s+Running\s+0\s+\d+s$/);
    const wide = await c.kubectl(['get', 'pods', '-o', 'wide']);
    expect(wide.stdout.split('\n')[0]).toMatch(/IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES/);
    for (const p of c.rt.pods()) {
      const [ns, name] = p.pod.split('/');
      expect(ns).toBe('default');
      expect(wide.stdout).toMatch(
        new RegExp(`${name}\\s.*\\s${p.podIP.replace(/\./g, '\\.')}\\s+${p.node}\\s`),
      );
    }
    const svc = await c.kubectl(['get', 'svc', 'web']);
    expect(svc.stdout).toMatch(
      new RegExp(
        `web\\s+NodePort\\s+${a.svcIP(20).replace(/\./g, '\\.')}\\s+<none>\\s+8000:${a.nodePort(1)}/TCP\\s+\\d+s`,
      ),
    );
  });

  it('-o json, -o yaml and -o jsonpath give the object as the apiserver returns it', async () => {
    const j = JSON.parse((await c.kubectl(['get', 'svc', 'web', '-o', 'json'])).stdout);
    expect(j.kind).toBe('Service');
    expect(j.apiVersion).toBe('v1');
    expect(j.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(j.metadata.resourceVersion)).toBeGreaterThan(0);
    expect(Date.parse(j.metadata.creationTimestamp)).toBeGreaterThan(0);
    expect(j.spec.clusterIP).toBe(a.svcIP(20));
    expect(j.spec.ports[0]).toMatchObject({ port: 8000, nodePort: a.nodePort(1), protocol: 'TCP' });
    const y = parse((await c.kubectl(['get', 'deploy', 'web', '-o', 'yaml'])).stdout);
    expect(y).toMatchObject({
      kind: 'Deployment',
      apiVersion: 'apps/v1',
      metadata: { name: 'web', generation: 1 },
    });
    expect(y.status).toMatchObject({
      replicas: 2,
      readyReplicas: 2,
      availableReplicas: 2,
      observedGeneration: 1,
    });
    const jp = await c.kubectl([
      'get',
      'pods',
      '-o',
      'jsonpath={range .items[*]}{.status.podIP}{"\\n"}{end}',
    ]);
    expect(jp.stdout.trim().split('\n').sort()).toEqual(
      c.rt
        .pods()
        .map((p) => p.podIP)
        .sort(),
    );
  });

  it('describe shows a service with its endpoints and a deployment with its ReplicaSet', async () => {
    const d = await c.kubectl(['describe', 'svc', 'web']);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/^Name:\s+web$/m);
    expect(d.stdout).toMatch(new RegExp(`^IP:\\s+${a.svcIP(20).replace(/\./g, '\\.')}$`, 'm'));
    for (const p of c.rt.pods()) expect(d.stdout).toContain(`${p.podIP}:8080`);
    const dd = await c.kubectl(['describe', 'deploy', 'web']);
    expect(dd.stdout).toMatch(
      /^Replicas:\s+2 desired \| 2 updated \| 2 total \| 2 available \| 0 unavailable$/m,
    );
    expect(dd.stdout).toMatch(/^NewReplicaSet:\s+web-[a-z0-9]+ \(2\/2 replicas created\)$/m);
  });

  it('apply (client-side) creates a deployment and service whose listener answers from the new pods; re-apply configures', async () => {
    const manifest = (replicas: number) =>
      echoDeployment('api', replicas, 9090).replace('---\n', '') +
      service('api', { ip: a.svcIP(30), port: 80, targetPort: 9090 });
    const r = await c.kubectl(['apply', '-f', '-'], manifest(1));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('deployment.apps/api created\nservice/api created\n');
    const pods = await eventually(async () => {
      const s = await answering(a.svcTwin(30), 80, 4).catch(() => undefined);
      return s?.size === 1 ? s : undefined;
    }, 'the api service to answer');
    expect([...pods][0]).toMatch(/^api-/);
    const again = await c.kubectl(['apply', '-f', '-'], manifest(1));
    expect(again.stdout).toBe('deployment.apps/api unchanged\nservice/api unchanged\n');
    const more = await c.kubectl(['apply', '-f', '-'], manifest(2));
    expect(more.stdout).toBe('deployment.apps/api configured\nservice/api unchanged\n');
    await eventually(async () => (await answering(a.svcTwin(30), 80)).size === 2, 'two api pods answering');
  });

  it('apply --server-side creates and updates, recording the field manager', async () => {
    const cm = (v: string) =>
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: ${v}\n`;
    const svc = (port: number) =>
      `apiVersion: v1\nkind: Service\nmetadata:\n  name: ssa\nspec:\n  selector:\n    app: web\n  ports:\n  - port: ${port}\n    targetPort: 8080\n`;
    const r = await c.kubectl(['apply', '--server-side', '-f', '-'], `${cm('a')}---\n${svc(81)}`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('configmap/settings serverside-applied\nservice/ssa serverside-applied\n');
    const r2 = await c.kubectl(['apply', '--server-side', '-f', '-'], `${cm('b')}---\n${svc(82)}`);
    expect(r2.code, r2.stderr).toBe(0);
    // Over HTTPS: older kubectl has no --show-managed-fields, newer hides them without it.
    const s = (await c.call('GET', '/api/v1/namespaces/default/services/ssa')).json() as {
      spec: { ports: { port: number }[]; clusterIP: string };
      metadata: { managedFields: unknown[] };
    };
    expect(s.spec.ports).toHaveLength(1);
    expect(s.spec.ports[0]?.port).toBe(82);
    expect(s.metadata.managedFields[0]).toMatchObject({
      manager: 'kubectl',
      operation: 'Apply',
      fieldsType: 'FieldsV1',
    });
    const ip = s.spec.clusterIP as string;
    const twin = ip.replace(/^10\./, '127.');
    await eventually(
      async () => ((await get(twin, 82).catch(() => undefined))?.status === 200 ? true : undefined),
      'ssa:82 answering',
    );
    expect((await c.kubectl(['get', 'cm', 'settings', '-o', 'jsonpath={.data.mode}'])).stdout).toBe('b');
  });

  it('scale changes the pods, and a new endpoint answers through the service listener', async () => {
    const before = await answering(a.svcTwin(20), 8000);
    expect(before.size).toBe(2);
    const r = await c.kubectl(['scale', 'deployment/web', '--replicas=3']);
    expect(r.stdout).toBe('deployment.apps/web scaled\n');
    const after = await eventually(async () => {
      const s = await answering(a.svcTwin(20), 8000, 15);
      return s.size === 3 ? s : undefined;
    }, 'three web pods answering');
    const added = [...after].filter((p) => !before.has(p));
    expect(added).toHaveLength(1);
    const pods = (await c.kubectl(['get', 'pods', '-l', 'app=web', '-o', 'name'])).stdout.trim().split('\n');
    expect(pods.sort()).toEqual([...after].map((p) => `pod/${p}`).sort());
  });

  it('established connections survive what kubectl changes (scale, a new service, a label)', async () => {
    const conns = await Promise.all(Array.from({ length: 4 }, () => dial(a.svcTwin(20), 8000)));
    try {
      for (const [i, s] of conns.entries()) expect(await roundTrip(s, `before-${i}`)).toBe(`before-${i}`);
      expect((await c.kubectl(['scale', 'deployment/web', '--replicas=4'])).code).toBe(0);
      const extra = service('extra', { ip: a.svcIP(40), port: 8100, selector: 'web' });
      expect((await c.kubectl(['apply', '-f', '-'], extra)).stdout).toBe('service/extra created\n');
      expect((await c.kubectl(['label', 'deploy', 'web', 'touched=yes'])).code).toBe(0);
      await eventually(
        async () => (await get(a.svcTwin(40), 8100).catch(() => undefined))?.status === 200,
        'extra answering',
      );
      for (const [i, s] of conns.entries()) expect(await roundTrip(s, `after-${i}`)).toBe(`after-${i}`);
    } finally {
      for (const s of conns) s.destroy();
    }
  });

  it('delete pod: the controller replaces it under a new name, and the service stops sending to the old one', async () => {
    const names = (
      await c.kubectl(['get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[*].metadata.name}'])
    ).stdout.split(' ');
    const victim = names[0]!;
    const r = await c.kubectl(['delete', 'pod', victim]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`pod "${victim}" deleted\n`);
    const now = (
      await c.kubectl(['get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[*].metadata.name}'])
    ).stdout.split(' ');
    expect(now).toHaveLength(names.length);
    expect(now).not.toContain(victim);
    const seen = await eventually(async () => {
      const s = await answering(a.svcTwin(20), 8000, 15);
      return s.size === names.length && !s.has(victim) ? s : undefined;
    }, 'the replacement answering');
    expect([...seen].filter((p) => !names.includes(p))).toHaveLength(1);
    const missing = await c.kubectl(['delete', 'pod', victim]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`Error from server (NotFound): pods "${victim}" not found`);
  });

  it('label sets a label that selectors then find', async () => {
    const name = (
      await c.kubectl(['get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[0].metadata.name}'])
    ).stdout;
    expect((await c.kubectl(['label', 'svc', 'web', 'tier=front'])).stdout).toBe('service/web labeled\n');
    expect((await c.kubectl(['get', 'svc', '-l', 'tier=front', '-o', 'name'])).stdout).toBe('service/web\n');
    expect((await c.kubectl(['get', 'svc', '-l', 'tier!=front', '-o', 'name'])).stdout).not.toContain(
      'service/web\n',
    );
    // Pods a Deployment made are the controller's: kpath refuses to change them (change the Deployment).
    const refused = await c.kubectl(['label', 'pod', name, 'x=y']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('Forbidden');
  });

  it('get -w prints the new pods as scale makes them', async () => {
    const w = kubectlStream(c, ['get', 'pods', '-l', 'app=api', '-w']);
    try {
      await eventually(() => (w.output().match(/^api-/gm)?.length ?? 0) >= 2, 'the initial list');
      const before = new Set(w.output().match(/^api-\S+/gm));
      expect((await c.kubectl(['scale', 'deploy', 'api', '--replicas=3'])).code).toBe(0);
      const line = await eventually(
        () =>
          w
            .output()
            .match(/^api-\S+/gm)
            ?.find((n) => !before.has(n)),
        'a watch line for the new pod',
      );
      expect(line).toMatch(/^api-[a-z0-9]+-[a-z0-9]{5}$/);
    } finally {
      w.stop();
    }
  });

  it('get -w --output-watch-events reports DELETED when kubectl deletes a service', async () => {
    const w = kubectlStream(c, ['get', 'svc', 'ssa', '-w', '--output-watch-events']);
    try {
      await eventually(() => /ADDED\s+ssa\s/.test(w.output()), 'the ADDED line');
      expect((await c.kubectl(['delete', 'svc', 'ssa'])).stdout).toBe('service "ssa" deleted\n');
      await eventually(() => /DELETED\s+ssa\s/.test(w.output()), 'the DELETED line');
    } finally {
      w.stop();
    }
  });
});
