/** Lab local-nodeport: externalTrafficPolicy Local on a node without an endpoint drops outside traffic. */
import { expect, it } from 'vitest';
import { detail, failed, roundTrip } from './helpers.js';

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
