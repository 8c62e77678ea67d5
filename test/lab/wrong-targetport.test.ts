/** Lab wrong-targetport: endpoints on a port nothing listens on; the pod refuses. */
import { expect, it } from 'vitest';
import { detail, roundTrip } from './helpers.js';

it('wrong-targetport: refused at the pod until targetPort is the container port', async () => {
  const { broken, fixed } = await roundTrip('wrong-targetport');
  expect(detail(broken, 'the client pod reaches the catalog')).toMatch(
    /^4 of 4 requests: connection refused/,
  );
  // The proxy has accepted the handshake when the dial to the pod is refused: the client gets a reset.
  expect(detail(broken, 'the catalog port accepts connections')).toBe(
    'TCP catalog:80 from pod/default/client: refused (connection reset by peer); expected an answer',
  );
  expect(detail(fixed, 'the catalog port accepts connections')).toMatch(/connected, \d+ bytes came back$/);
  expect(detail(fixed, 'the client pod reaches the catalog')).toMatch(
    /^4 requests: HTTP 200 from default\/catalog-\S+ x\d, default\/catalog-/,
  );
});
