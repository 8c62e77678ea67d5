/** Lab readiness-never: a readiness probe on a port name the container lacks never passes. */
import { expect, it } from 'vitest';
import { detail, roundTrip } from './helpers.js';

it('readiness-never: kubelet cannot resolve the probe port, the pods stay unready until it names a real port', async () => {
  const { broken, fixed } = await roundTrip('readiness-never');
  expect(detail(broken, 'the client pod reaches orders')).toMatch(/^4 of 4 requests: connection refused/);
  // kubelet's words for a named probe port the container does not declare (probe.ResolveContainerPort).
  expect(broken.events.some((e) => /Readiness probe failed: couldn't find port: healthz/.test(e))).toBe(true);
  expect(detail(fixed, 'the client pod reaches orders')).toMatch(/default\/orders-\S+ x\d, default\/orders-/);
});
