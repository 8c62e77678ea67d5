/** Debian's Chromium for the page tests: the system browser (no download), a fresh profile, fixed flags. */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
export const SKIP_REASON = `${CHROMIUM} is missing (apt-get install chromium; .ci/run installs it)`;

export interface Chromium {
  readonly browser: Browser;
  /** A page that may only reach `origin` (everything else is aborted: the page must work offline). */
  page(origin: string): Promise<Page>;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Chromium> {
  const profile = mkdtempSync(join(tmpdir(), 'kp-ui-chromium-'));
  let browser: Browser;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // Exactly these flags (playwright's own defaults left out); playwright talks over the pipe.
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
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
  return {
    browser,
    async page(origin) {
      const p = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
      await p.route('**/*', (r) =>
        r.request().url().startsWith(`${origin}/`) ? r.continue() : r.abort('blockedbyclient'),
      );
      return p;
    },
    async close() {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
