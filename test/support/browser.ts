import { existsSync } from 'node:fs';
import { type Browser, chromium, type Page, type Request } from 'playwright-core';
import { describe } from 'vitest';

/**
 * Real-browser tests run Debian's Chromium through playwright-core (no bundled browser download).
 * Where Chromium is not installed, a developer's run skips these suites and says why on the
 * console; under CI a missing Chromium is a failure, so the suites can never vanish silently.
 */

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Quiet, offline, container-friendly: no sandbox (root in CI), no GPU, no calls home. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const chromiumInstalled = existsSync(CHROMIUM_PATH);

/**
 * `describe` for suites that need Chromium. Missing Chromium: skipped with a console line outside
 * CI; under CI the suite is declared anyway and fails at launch with the reason.
 */
export function describeWithChromium(name: string, body: () => void): void {
  if (!chromiumInstalled && !process.env.CI) {
    console.warn(
      `[browser tests] skipping "${name}": no Chromium at ${CHROMIUM_PATH} ` +
        '(install it with `apt-get install -y chromium`, or set CHROMIUM_PATH)',
    );
    describe.skip(name, body);
    return;
  }
  describe(name, body);
}

export async function launchChromium(): Promise<Browser> {
  if (!chromiumInstalled)
    throw new Error(`Chromium is required under CI but missing at ${CHROMIUM_PATH} (set CHROMIUM_PATH)`);
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

/**
 * Records every navigation a page attempts to an external scheme such as vscode:. Chromium
 * reports them as requests (then aborts them, having no handler), which is exactly one per
 * `location.href = 'vscode://…'`.
 */
export function recordSchemeNavigations(
  page: Page,
  scheme: string,
): { urls: string[]; next(): Promise<Request> } {
  const urls: string[] = [];
  const matches = (r: Request) => r.url().startsWith(`${scheme}:`);
  page.on('request', (r) => {
    if (matches(r)) urls.push(r.url());
  });
  return { urls, next: () => page.waitForEvent('request', { predicate: matches, timeout: 10_000 }) };
}
