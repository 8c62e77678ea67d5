/** Lab ipvs-scheduler: IPVS source hashing sends one client to one real server. */
import { expect, it } from 'vitest';
import { detail, roundTrip } from './helpers.js';

it('ipvs-scheduler: sh answers 9 requests from one pod, rr from all three', async () => {
  const { broken, fixed } = await roundTrip('ipvs-scheduler');
  const check = '9 requests from loadgen to http://web/ reach all 3 web pods';
  expect(detail(broken, check)).toMatch(/9 requests were answered by 1 pod \(default\/web-\S+ x9\)/);
  // rr: each of the three real servers in turn.
  expect(detail(fixed, check)).toMatch(
    /HTTP 200 from default\/web-\S+ x3, default\/web-\S+ x3, default\/web-\S+ x3$/,
  );
});
