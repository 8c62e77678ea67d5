/** Lab affinity-timeout: ClientIP affinity forgets a client after timeoutSeconds of silence. */
import { expect, it } from 'vitest';
import { detail, roundTrip } from './helpers.js';

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
