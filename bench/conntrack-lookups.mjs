#!/usr/bin/env node
/**
 * What the conntrack index reads per proxied TCP connection: IptablesMode.decide + closed (the six
 * walks, as bench/proxy-decide.mjs runs them, ~30,000 entries in TIME_WAIT) with the index's lookup
 * counted from outside: lookups, those answered by the entry found last (compared before hashing),
 * entries loaded (every entry a lookup reads to compare its tuple: a cache miss at table sizes, the
 * entries being spread over the heap) and index cache lines read (bucket heads, or 64-byte runs of
 * slot keys). Counts, not times: the same on a loaded machine.
 *
 *   npm run build && node bench/conntrack-lookups.mjs [--dist dist] [--modes iptables,ipvs] [--n 20000]
 *
 * Knows both layouts: the open-addressing table of hash keys (`probe`) and, for builds before it,
 * the bucket chains through the entries (`walk`).
 */
import { resolve } from 'node:path';
import { cliOptions, REPO } from './lib.mjs';
import { loadModeModules, modeHarness } from './proxy/cluster-head.mjs';

const { opt } = cliOptions();
const dist = resolve(opt('dist', `${REPO}/dist`));
const N = Number(opt('n', 20_000));
const modes = opt('modes', 'iptables,ipvs').split(',');

const { TupleIndex } = await import(`${dist}/netmodel/conntrack/tuple-index.js`);
const c = { lookups: 0, recent: 0, entries: 0, lines: 0 };
const P = TupleIndex.prototype;
if (P.probe) {
  const probe = P.probe;
  P.probe = function (hash, ...rest) {
    c.lookups++;
    const found = probe.call(this, hash, ...rest);
    const lines = new Set();
    for (let i = hash & this.mask; ; i = (i + 1) & this.mask) {
      lines.add(i >> 4); // 16 Int32 keys per 64-byte line
      const k = this.keys[i];
      if (k === -1) break;
      if (k >= 0 && k >>> 1 === hash) {
        c.entries++;
        if (this.slots[i] === found) break;
      }
    }
    c.lines += lines.size;
    return found;
  };
  const recentHit = P.recentHit;
  P.recentHit = function (...a) {
    const found = recentHit.apply(this, a);
    if (found) {
      c.lookups++;
      c.recent++;
    }
    return found;
  };
} else {
  const walk = P.walk;
  P.walk = function (hash, ...rest) {
    c.lookups++;
    const found = walk.call(this, hash, ...rest);
    const b = hash & this.mask;
    c.lines++;
    for (let e = this.replyHeads[b]; e; e = e.nextReply) {
      c.entries++;
      if (e === found && this.hitDir === 'REPLY') return found;
    }
    c.lines++;
    for (let e = this.origHeads[b]; e; e = e.nextOrig) {
      c.entries++;
      if (e === found) return found;
    }
    return found;
  };
}

const build = await loadModeModules(dist);
for (const mode of modes) {
  const h = modeHarness(build, mode);
  const one = () => {
    const d = h.one();
    if (d.kind !== 'forward') throw new Error(`not forwarded: ${JSON.stringify(d)}`);
  };
  for (let i = 0; i < 40_000; i++) one(); // ~30,000 in TIME_WAIT from here on
  for (const k of Object.keys(c)) c[k] = 0;
  for (let i = 0; i < N; i++) one();
  const per = (x) => (x / N).toFixed(2);
  console.log(
    `${mode}: per connection ${per(c.lookups)} index lookups (${per(c.recent)} answered by the entry found last), ` +
      `${per(c.entries)} entries loaded, ${per(c.lines)} index cache lines read`,
  );
}
