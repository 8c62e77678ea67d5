/** Lab netpol-service-port: policy sees the packet after DNAT, so the container port is what counts. */
import { expect, it } from 'vitest';
import { detail, roundTrip } from './helpers.js';

it('netpol-service-port: the connection hangs (a dropped SYN) until the rule allows 8080', async () => {
  const { broken, fixed } = await roundTrip('netpol-service-port');
  expect(detail(broken, 'frontend reaches http://api/')).toMatch(/^no answer before the timeout/);
  expect(detail(fixed, 'frontend reaches http://api/')).toBe('HTTP 200 from shop/api');
});
