/**
 * The trace text: after a jump to a user chain returns, the next rule matched belongs to the calling
 * chain and is printed under that chain's heading (kube-proxy's FORWARD jumps to KUBE-PROXY-FIREWALL,
 * which returns; FORWARD's #2 is FORWARD's, not KUBE-PROXY-FIREWALL's).
 */
import { describe, expect, it } from 'vitest';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';

describe('trace text', () => {
  it("prints the calling chain's next rule under the calling chain", async () => {
    const io = bufferIO();
    expect(
      await main(['trace', '--from', 'pod/default/client', '--to', 'svc/shop/cart', '--no-follow'], io),
    ).toBe(0);
    const lines = io
      .stdout()
      .split('\n')
      .map((l) => l.trim());
    const forward2 = lines.findIndex((l) => /^#2 {2}-A FORWARD /.test(l));
    expect(forward2).toBeGreaterThan(0);
    // The nearest heading above FORWARD's rule #2 is FORWARD's, saying which chain returned.
    const heading = lines
      .slice(0, forward2)
      .reverse()
      .find((l) => !l.startsWith('#'));
    expect(heading).toBe('FORWARD  (continued after KUBE-PROXY-FIREWALL returned)');
    // Every rule line sits under the heading of its own chain.
    let under = '';
    for (const l of lines) {
      const chain = /^([A-Z][A-Z0-9-]+)(\s|$)/.exec(l)?.[1];
      if (chain && !/^(PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING)$/.test(l)) under = chain;
      const rule = /^#\d+ {2}-A (\S+) /.exec(l);
      if (rule) expect(rule[1]).toBe(under);
    }
  });
});
