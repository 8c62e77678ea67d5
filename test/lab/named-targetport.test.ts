/** Lab named-targetport: a targetPort name no container port has leaves every pod out of the endpoints. */
import { expect, it } from 'vitest';
import { detail, roundTrip } from './helpers.js';

it('named-targetport: no endpoints (refused) until the names agree, then both pods answer', async () => {
  const { broken, fixed } = await roundTrip('named-targetport');
  expect(detail(broken, 'the client pod reaches payments')).toMatch(/^4 of 4 requests: connection refused/);
  expect(detail(fixed, 'the client pod reaches payments')).toMatch(
    /default\/payments-\S+ x\d, default\/payments-/,
  );
});
