#!/usr/bin/env node
// Screenshots of the kpath up page for the docs: node scripts/ui-screenshots.mjs (after npm run build;
// needs /usr/bin/chromium). Runs examples/demo on an ephemeral admin port, opens a connection so the
// live table has a row, and writes docs/ui-topology.png and docs/ui-trace.png.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startRuntime } from '../dist/proxy/runtime/index.js';

const rt = startRuntime({
  files: ['examples/demo'],
  health: null,
  metrics: { host: '127.0.0.1', port: 0 },
  watch: false,
  seed: 1,
});
await rt.ready;
const base = `http://${rt.addresses().metrics}`;
const web = rt.listeners().find((l) => l.servicePort === 'default/web:http' && l.protocol === 'TCP');
const [host, port] = web
  ? [
      web.address.slice(0, web.address.lastIndexOf(':')),
      Number(web.address.slice(web.address.lastIndexOf(':') + 1)),
    ]
  : [];
const sock = web ? connect({ host, port }) : undefined;
const profile = mkdtempSync(join(tmpdir(), 'kp-ui-shots-'));
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  ignoreDefaultArgs: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    `--user-data-dir=${profile}`,
    '--remote-debugging-pipe',
    'about:blank',
  ],
});
try {
  const page = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
  await page.goto(`${base}/ui/`);
  await page.waitForSelector('#conntrack tbody tr');
  await page.screenshot({ path: 'docs/ui-topology.png', fullPage: true });
  await page.goto(`${base}/ui/trace?from=pod/default/client&to=svc/default/web:80`);
  await page.waitForSelector('#trace-result');
  await page.screenshot({ path: 'docs/ui-trace.png' });
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
  sock?.destroy();
  await rt.stop();
}
console.log('wrote docs/ui-topology.png and docs/ui-trace.png');
