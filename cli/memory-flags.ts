/**
 * V8 settings for a long-running `kpath up`, applied before anything else is loaded (cli/bin.ts
 * imports this first).
 *
 * --semi-space-growth-factor=1: keep the young generation at its initial size instead of letting
 * startup's burst of allocation (parsing manifests, compiling rules) grow it to 8 MiB and keep it
 * there. Measured on `kpath up` with the proxy benchmark's cluster (Node-stream path, read a few
 * seconds after start): idle RSS 74.9 -> 66.8 MiB, and 13.9 -> 7.7 KB per idle proxied connection;
 * read right after start on the bundled example the saving is smaller (about 2.4 MiB). It is the
 * runtime equivalent of --max-semi-space-size, which cannot be changed once V8 runs.
 * KPATH_V8_DEFAULTS=0 leaves V8's defaults. Only the long-running commands (up, demo) get it: a
 * short command like `kpath get` would pay for it in extra young-generation collections.
 */
import { setFlagsFromString } from 'node:v8';

const LONG_RUNNING = new Set(['up', 'demo']);
if (process.env.KPATH_V8_DEFAULTS !== '0' && LONG_RUNNING.has(process.argv[2] ?? ''))
  setFlagsFromString('--semi-space-growth-factor=1');
