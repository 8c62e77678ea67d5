/** Lab dns-srv-port-name: SRV names come from the Service's port names. */
import { expect, it } from 'vitest';
import { detail, roundTrip } from './helpers.js';

it('dns-srv-port-name: _grpc._tcp NXDOMAIN while the port is named http2, then SRV 9090', async () => {
  const { broken, fixed } = await roundTrip('dns-srv-port-name');
  const check = 'the SRV lookup _grpc._tcp.stock.warehouse.svc.cluster.local gives port 9090';
  expect(detail(broken, check)).toMatch(/SRV _grpc\._tcp\.stock\.warehouse\.svc\.cluster\.local\. NXDOMAIN/);
  expect(detail(fixed, check)).toMatch(/to 9090 stock\.warehouse\.svc\.cluster\.local\.? in 1 query$/);
});
