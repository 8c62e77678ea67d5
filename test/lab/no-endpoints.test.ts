/** Lab no-endpoints: the Service's selector matches no pod, so kube-proxy rejects: refused at once. */
import { expect, it } from 'vitest';
import { detail, failed, roundTrip } from './helpers.js';

it('no-endpoints: refused with real traffic until the selector matches, then both api pods answer', async () => {
  const { broken, fixed } = await roundTrip('no-endpoints');
  expect(failed(broken)).toEqual(['the client pod reaches api', 'both api pods serve']);
  // kube-proxy's REJECT for a service without endpoints: the client is refused, not left hanging.
  expect(detail(broken, 'the client pod reaches api')).toMatch(/^4 of 4 requests: connection refused/);
  expect(detail(fixed, 'both api pods serve')).toMatch(/HTTP 200 from default\/api-\S+ x\d, default\/api-/);
});
