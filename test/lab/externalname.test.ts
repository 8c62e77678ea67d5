/** Lab externalname: the alias's CNAME points at a Service name that does not exist. */
import { expect, it } from 'vitest';
import { detail, roundTrip } from './helpers.js';

it('externalname: db does not resolve until its CNAME names the real Service', async () => {
  const { broken, fixed } = await roundTrip('externalname');
  expect(detail(broken, 'the orders pod connects to PostgreSQL at db:5432')).toMatch(
    /^TCP db:5432 from pod\/default\/orders: the name did not resolve/,
  );
  expect(detail(broken, 'db resolves from the orders pod')).toContain('db.default.svc.cluster.local.');
  // kube-dns answers the alias with a CNAME and, the target being in the zone, its A record too.
  expect(detail(fixed, 'db resolves from the orders pod')).toMatch(
    /NOERROR CNAME postgres\.data\.svc\.cluster\.local\., A 10\.\d+\.\d+\.\d+$/,
  );
  // The echo server behind postgres.data answers the bytes the check sends: a real connection.
  expect(detail(fixed, 'the orders pod connects to PostgreSQL at db:5432')).toBe(
    'TCP db:5432 from pod/default/orders: connected, 10 bytes came back',
  );
});
