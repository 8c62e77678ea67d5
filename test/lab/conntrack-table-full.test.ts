/** Lab conntrack-table-full: kube-proxy's conntrack.maxPerCore sizes nf_conntrack_max. */
import { expect, it } from 'vitest';
import { detail, roundTrip } from './helpers.js';

it('conntrack-table-full: 16 of 24 held connections answered (8/core x 2 CPUs), all 24 at the defaults', async () => {
  const { broken, fixed } = await roundTrip('conntrack-table-full');
  const check = '24 simultaneous connections from loadgen to web are all answered';
  // nf_conntrack_max = 8 x 2 = 16: each held connection keeps an ASSURED entry; the rest are dropped.
  expect(detail(broken, check)).toMatch(/held open at once: 16 answered, 8 got no answer within 3000 ms/);
  expect(detail(fixed, check)).toMatch(/held open at once: 24 answered$/);
});
