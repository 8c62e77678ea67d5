/** Lab dns-ndots: a 4-dot name under ndots:5 walks the whole search list before itself. */
import { expect, it } from 'vitest';
import { detail, failed, roundTrip } from './helpers.js';

it('dns-ndots: 8 real queries per lookup (3 NXDOMAIN pairs first), 2 once the pod sets ndots', async () => {
  const { broken, fixed } = await roundTrip('dns-ndots');
  // It resolves all along: only the cost is wrong.
  expect(failed(broken)).toEqual(['one lookup sends kube-dns at most 2 queries (A and AAAA)']);
  const d = detail(broken, 'one lookup sends kube-dns at most 2 queries (A and AAAA)');
  expect(d).toMatch(/sent 8 queries/);
  expect(d.match(/NXDOMAIN/g)).toHaveLength(6);
  expect(detail(fixed, 'one lookup sends kube-dns at most 2 queries (A and AAAA)')).toMatch(
    /resolved as orders\.shop\.svc\.cluster\.local\. to \S+ in 2 queries$/,
  );
});
