/** Lab dns-cross-namespace: a short name only searches the pod's own namespace. */
import { expect, it } from 'vitest';
import { detail, failed, roundTrip } from './helpers.js';

it("dns-cross-namespace: NXDOMAIN through shop's search path until the URL names billing", async () => {
  const { broken, fixed } = await roundTrip('dns-cross-namespace');
  expect(failed(broken)).toEqual([
    "the host in checkout's PAYMENTS_URL resolves to the payments service",
    'checkout gets an answer from PAYMENTS_URL',
  ]);
  // The resolver walks shop's search path (kubelet's resolv.conf), every candidate NXDOMAIN.
  expect(detail(broken, "the host in checkout's PAYMENTS_URL resolves to the payments service")).toMatch(
    /A payments\.shop\.svc\.cluster\.local\. NXDOMAIN; .*A payments\.svc\.cluster\.local\. NXDOMAIN/,
  );
  expect(detail(fixed, 'checkout gets an answer from PAYMENTS_URL')).toMatch(
    /^PAYMENTS_URL=http:\/\/payments\.billing\/: HTTP 200 from billing\/payments-/,
  );
});
