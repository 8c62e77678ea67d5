/** Lab source-ip: outside traffic to a NodePort is masqueraded unless externalTrafficPolicy is Local. */
import { expect, it } from 'vitest';
import { detail, roundTrip } from './helpers.js';

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
