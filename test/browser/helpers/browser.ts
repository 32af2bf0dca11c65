/**
 * Drives Debian's chromium through playwright-core for the console's browser
 * tests: no browser download, a throwaway profile per launch, and the
 * gateway's self-signed CA accepted.
 *
 * @example
 * const b = await launchBrowser({ viewport: VIEWPORTS.phone, baseURL: gateway.url });
 * await b.page.goto('/ui/');
 * await screenshot(b.page, 'inbox-phone');
 * await b.close();
 */

import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Quiet, offline-by-default chromium: nothing phones home, so tests see only the traffic they cause. */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The sizes the console is checked at: a laptop and a small phone. */
export const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 360, height: 740 },
} as const;

export const SCREENSHOT_DIR = resolve(import.meta.dirname, '../../../test-artifacts/screenshots');

export interface LaunchOptions {
  viewport?: { width: number; height: number };
  /** Prefix for relative `page.goto` URLs, e.g. the gateway's https://127.0.0.1:port. */
  baseURL?: string;
}

export interface TestBrowser {
  context: BrowserContext;
  /** The context's first page. */
  page: Page;
  /** Closes the browser and deletes its profile. */
  close(): Promise<void>;
}

/** Starts chromium with a fresh user-data dir; one context, one page. */
export async function launchBrowser(options: LaunchOptions = {}): Promise<TestBrowser> {
  const profile = await mkdtemp(join(tmpdir(), 'gatehouse-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_FLAGS,
      ignoreHTTPSErrors: true,
      viewport: options.viewport ?? VIEWPORTS.desktop,
      baseURL: options.baseURL,
    });
    const page = context.pages()[0] ?? (await context.newPage());
    return {
      context,
      page,
      close: async () => {
        await context.close();
        await rm(profile, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await rm(profile, { recursive: true, force: true });
    throw e;
  }
}

/** Saves a full-page PNG as test-artifacts/screenshots/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name.replace(/[^\w.-]+/g, '-')}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Signs in on the console's sign-in page with a token, as a person holding one would, and waits for the console. */
export async function signInWithToken(page: Page, token: string): Promise<void> {
  await page.getByLabel(/sign in with a token you hold/i).fill(token);
  await page.getByRole('button', { name: 'Sign in with token' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}
