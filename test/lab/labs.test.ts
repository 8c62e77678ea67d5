/**
 * Every lab of this branch as a learner takes it, with real traffic: start, check (fails: exit 1),
 * solve, check (passes: exit 0), and what the failing checks said. One file, so the runtime and CLI
 * are loaded once for all of them.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detail, failed, lab, roundTrip } from './helpers.js';

// no-endpoints: the Service's selector matches no pod, so kube-proxy rejects: refused at once.
describe('lab no-endpoints', () => {
  it('no-endpoints: refused with real traffic until the selector matches, then both api pods answer', async () => {
    const { broken, fixed } = await roundTrip('no-endpoints');
    expect(failed(broken)).toEqual(['the client pod reaches api', 'both api pods serve']);
    // kube-proxy's REJECT for a service without endpoints: the client is refused, not left hanging.
    expect(detail(broken, 'the client pod reaches api')).toMatch(/^4 of 4 requests: connection refused/);
    expect(detail(fixed, 'both api pods serve')).toMatch(/HTTP 200 from default\/api-\S+ x\d, default\/api-/);
  });
});

// selector-overlap: a selector shared with another Deployment's pods sends them traffic too.
describe('lab selector-overlap', () => {
  it('selector-overlap: the worker answers part of the requests until the selector names the role', async () => {
    const { broken, fixed } = await roundTrip('selector-overlap');
    expect(detail(broken, 'every request is answered by a web pod')).toMatch(
      /^answered by default\/worker-\S+ x\d+; expected only web-\*$/,
    );
    expect(detail(fixed, 'every request is answered by a web pod')).toMatch(
      /^12 requests: HTTP 200 from default\/web-\S+ x\d+, default\/web-\S+ x\d+$/,
    );
  });
});

// wrong-targetport: endpoints on a port nothing listens on; the pod refuses.
describe('lab wrong-targetport', () => {
  it('wrong-targetport: refused at the pod until targetPort is the container port', async () => {
    const { broken, fixed } = await roundTrip('wrong-targetport');
    expect(detail(broken, 'the client pod reaches the catalog')).toMatch(
      /^4 of 4 requests: connection refused/,
    );
    // The proxy has accepted the handshake when the dial to the pod is refused: the client gets a reset.
    expect(detail(broken, 'the catalog port accepts connections')).toBe(
      'TCP catalog:80 from pod/default/client: refused (connection reset by peer); expected an answer',
    );
    expect(detail(fixed, 'the catalog port accepts connections')).toMatch(/connected, \d+ bytes came back$/);
    expect(detail(fixed, 'the client pod reaches the catalog')).toMatch(
      /^4 requests: HTTP 200 from default\/catalog-\S+ x\d, default\/catalog-/,
    );
  });
});

// named-targetport: a targetPort name no container port has leaves every pod out of the endpoints.
describe('lab named-targetport', () => {
  it('named-targetport: no endpoints (refused) until the names agree, then both pods answer', async () => {
    const { broken, fixed } = await roundTrip('named-targetport');
    expect(detail(broken, 'the client pod reaches payments')).toMatch(/^4 of 4 requests: connection refused/);
    expect(detail(fixed, 'the client pod reaches payments')).toMatch(
      /default\/payments-\S+ x\d, default\/payments-/,
    );
  });
});

// readiness-never: a readiness probe on a port name the container lacks never passes.
describe('lab readiness-never', () => {
  it('readiness-never: kubelet cannot resolve the probe port, the pods stay unready until it names a real port', async () => {
    const { broken, fixed } = await roundTrip('readiness-never');
    expect(detail(broken, 'the client pod reaches orders')).toMatch(/^4 of 4 requests: connection refused/);
    // kubelet's words for a named probe port the container does not declare (probe.ResolveContainerPort).
    expect(broken.events.some((e) => /Readiness probe failed: couldn't find port: healthz/.test(e))).toBe(
      true,
    );
    expect(detail(fixed, 'the client pod reaches orders')).toMatch(
      /default\/orders-\S+ x\d, default\/orders-/,
    );
  });
});

// local-nodeport: externalTrafficPolicy Local on a node without an endpoint drops outside traffic.
describe('lab local-nodeport', () => {
  it('local-nodeport: node-b hangs until it has a local shop pod; both keep the customer address', async () => {
    const { broken, fixed } = await roundTrip('local-nodeport');
    // node-a has shop-0 and keeps the client's address; node-b drops (KUBE-EXT ... "has no local endpoints").
    expect(failed(broken)).toEqual([
      "node-b's node port answers with the customer's address",
      "node-b's node port accepts connections",
    ]);
    // A DROP behind a proxy that already accepted: connected, and then silence.
    expect(detail(broken, "node-b's node port accepts connections")).toBe(
      'TCP 10.0.0.12:30100 from external/192.0.2.7: no answer (connected, but nothing came back in 800 ms); expected an answer',
    );
    expect(detail(broken, "node-b's node port answers with the customer's address")).toMatch(
      /^2 of 2 requests: no answer before the timeout/,
    );
    expect(detail(broken, "node-a's node port answers with the customer's address")).toContain(
      'default/shop-0 x2, which saw the client as 192.0.2.7',
    );
    expect(detail(fixed, "node-b's node port answers with the customer's address")).toContain(
      'default/shop-1 x2, which saw the client as 192.0.2.7',
    );
  });
});

// source-ip: outside traffic to a NodePort is masqueraded unless externalTrafficPolicy is Local.
describe('lab source-ip', () => {
  it('source-ip: the pod sees a node address until Local, then the customer on both nodes', async () => {
    const { broken, fixed } = await roundTrip('source-ip');
    // node-a forwards to web-0 on node-b: SNAT to node-a's address (KUBE-POSTROUTING MASQUERADE).
    expect(detail(broken, "through node-a, the pod sees the customer's address")).toMatch(
      /the pod saw the client as 10\.0\.0\.11 \(node-a's address\)/,
    );
    // node-b's own pod: masqueraded too (the KUBE-EXT chain marks all outside traffic), to cni0's address.
    expect(detail(broken, "through node-b, the pod sees the customer's address")).toMatch(
      /the pod saw the client as 10\.244\.\d+\.1 \(node-b's cni0 address\)/,
    );
    expect(detail(fixed, "through node-a, the pod sees the customer's address")).toContain(
      'default/web-1 x2, which saw the client as 192.0.2.7',
    );
  });
});

// nodeport-collision: a node port belongs to one Service; the re-created shop got a random one.
describe('lab nodeport-collision', () => {
  it('nodeport-collision: customers reach admin-0 on 30080 until the ports are sorted out', async () => {
    const { broken, fixed } = await roundTrip('nodeport-collision');
    expect(detail(broken, 'customers on 10.0.0.11:30080 reach the shop')).toBe(
      'answered by default/admin-0 x4; expected only shop-*',
    );
    expect(broken.checks.find((c) => c.name === 'the operators reach the admin UI')?.passed).toBe(true);
    expect(detail(fixed, 'customers on 10.0.0.11:30080 reach the shop')).toMatch(/from default\/shop-/);
  });

  it('nodeport-collision: claiming 30080 twice is refused as the API server refuses it, exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpath-lab-np-'));
    try {
      expect((await lab('start', 'nodeport-collision', '--dir', dir, '--force')).code).toBe(0);
      const f = join(dir, 'cluster.yaml');
      writeFileSync(
        f,
        readFileSync(f, 'utf8').replace(
          '      targetPort: 8080\n---',
          '      targetPort: 8080\n      nodePort: 30080\n---',
        ),
      );
      const r = await lab('check', '--dir', dir);
      expect(r.code).toBe(2);
      // kube-apiserver's words (pkg/registry/core/service/portallocator: ErrAllocated).
      expect(r.err).toContain('provided port 30080 is already allocated');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// externalname: the alias's CNAME points at a Service name that does not exist.
describe('lab externalname', () => {
  it('externalname: db does not resolve until its CNAME names the real Service', async () => {
    const { broken, fixed } = await roundTrip('externalname');
    expect(detail(broken, 'the orders pod connects to PostgreSQL at db:5432')).toMatch(
      /^TCP db:5432 from pod\/default\/orders: the name did not resolve/,
    );
    expect(detail(broken, 'db resolves from the orders pod')).toContain('db.default.svc.cluster.local.');
    // kube-dns answers the alias with a CNAME and, the target being in the zone, its A record too.
    expect(detail(fixed, 'db resolves from the orders pod')).toMatch(
      /NOERROR CNAME postgres\.data\.svc\.cluster\.local\., A 10\.\d+\.\d+\.\d+$/,
    );
    // The echo server behind postgres.data answers the bytes the check sends: a real connection.
    expect(detail(fixed, 'the orders pod connects to PostgreSQL at db:5432')).toBe(
      'TCP db:5432 from pod/default/orders: connected, 10 bytes came back',
    );
  });
});

// affinity-timeout: ClientIP affinity forgets a client after timeoutSeconds of silence.
describe('lab affinity-timeout', () => {
  it('affinity-timeout: 60 s pauses lose the pod with a 10 s timeout, keep it with 10800 s', async () => {
    const { broken, fixed } = await roundTrip('affinity-timeout');
    // The cluster's clock moves 60 s between requests: the recent match's --seconds 10 has expired.
    expect(detail(broken, 'a minute between requests, the same cart pod answers')).toMatch(
      /^6 requests 60 s apart were answered by [23] different pods/,
    );
    // Within the timeout, the same client stays on its pod.
    expect(broken.checks.find((c) => c.name === 'quick clicks stay on one cart pod')?.passed).toBe(true);
    expect(detail(fixed, 'a minute between requests, the same cart pod answers')).toMatch(
      /^6 requests: HTTP 200 from default\/cart-\S+ x6$/,
    );
  });
});
