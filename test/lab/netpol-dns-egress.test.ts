/** Lab netpol-dns-egress (was examples/scenarios/netpol-dns): default-deny egress drops DNS. */
import { expect, it } from 'vitest';
import { detail, failed, roundTrip } from './helpers.js';

it('netpol-dns-egress: queries time out (dropped, not refused) until an egress rule allows kube-dns', async () => {
  const { broken, fixed } = await roundTrip('netpol-dns-egress');
  expect(failed(broken)).toEqual(['frontend resolves api', 'frontend reaches http://api/']);
  expect(detail(broken, 'frontend resolves api')).toMatch(
    /timed out.*A api\.shop\.svc\.cluster\.local\. TIMEOUT/,
  );
  expect(detail(fixed, 'frontend reaches http://api/')).toBe('HTTP 200 from shop/api');
});
