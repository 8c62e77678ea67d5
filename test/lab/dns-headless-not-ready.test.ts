/** Lab dns-headless-not-ready: a headless service publishes only ready endpoints, unless told otherwise. */
import { expect, it } from 'vitest';
import { detail, failed, roundTrip } from './helpers.js';

it('dns-headless-not-ready: peers NXDOMAIN while unready; publishNotReadyAddresses gives their A records', async () => {
  const { broken, fixed } = await roundTrip('dns-headless-not-ready');
  expect(failed(broken)).toEqual([
    'etcd-1 resolves its peer etcd-0 by name',
    'etcd-0 resolves its peer etcd-2 by name',
  ]);
  expect(detail(broken, 'etcd-1 resolves its peer etcd-0 by name')).toMatch(
    /^etcd-0\.etcd\.data\.svc\.cluster\.local did not resolve: .*A etcd-0\.etcd\.data\.svc\.cluster\.local\. NXDOMAIN/,
  );
  // The members stay unready (their exec probe really fails), so the client service still refuses.
  const client = 'clients still get no answer from members that have not joined (the probe stays as it is)';
  expect(detail(fixed, client)).toMatch(/^connection refused/);
  expect(detail(fixed, 'etcd-1 resolves its peer etcd-0 by name')).toMatch(
    /to 10\.244\.\d+\.\d+ in 2 queries$/,
  );
});
