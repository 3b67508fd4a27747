/**
 * A real Chromium (Debian's, at /usr/bin/chromium or VECTRA_TEST_CHROMIUM) driven by
 * playwright-core, and the web UI built from ui/ into dist/ui. In CI a missing Chromium fails the
 * run (.ci/chromium-setup installs it); locally its suites are skipped with a loud message.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { REPO_ROOT } from './gateway';
import { tempDir } from './temp-dir';

export const CHROMIUM = process.env.VECTRA_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** `describe` when Chromium is installed; a loudly skipped `describe` otherwise (never in CI). */
export function describeWithChromium(): jest.Describe {
  if (existsSync(CHROMIUM)) return describe;
  if (process.env.CI) {
    throw new Error(`CI requires Chromium at ${CHROMIUM}; run .ci/chromium-setup`);
  }
  console.warn(
    `\n*** Chromium not found at ${CHROMIUM}: skipping the browser suites (they fail in CI; apt-get install -y chromium) ***\n`,
  );
  return describe.skip;
}

/** Builds the web UI into dist/ui from the sources as they are now. */
export function buildUi(): void {
  execFileSync(
    process.execPath,
    [
      join(REPO_ROOT, 'node_modules/vite/bin/vite.js'),
      'build',
      '--config',
      'ui/vite.config.mts',
      '--logLevel',
      'warn',
    ],
    { cwd: REPO_ROOT, stdio: 'inherit' },
  );
}

/** A headless Chromium with a fresh profile of its own: no cookies shared with other contexts. */
export function launchBrowser(): Promise<BrowserContext> {
  return chromium.launchPersistentContext(tempDir('vectra-chromium-'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}
