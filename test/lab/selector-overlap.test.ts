/** Lab selector-overlap: a selector shared with another Deployment's pods sends them traffic too. */
import { expect, it } from 'vitest';
import { detail, roundTrip } from './helpers.js';

it('selector-overlap: the worker answers part of the requests until the selector names the role', async () => {
  const { broken, fixed } = await roundTrip('selector-overlap');
  expect(detail(broken, 'every request is answered by a web pod')).toMatch(
    /^answered by default\/worker-\S+ x\d+; expected only web-\*$/,
  );
  expect(detail(fixed, 'every request is answered by a web pod')).toMatch(
    /^12 requests: HTTP 200 from default\/web-\S+ x\d+, default\/web-\S+ x\d+$/,
  );
});
