import { afterAll, beforeAll } from 'bun:test';
import { type Browser, chromium } from 'playwright-core';
import { missingTools } from './tools';

const executablePath = Bun.which('chromium') ?? Bun.which('chromium-browser');

/** Whether Chromium is missing, so `subject`'s tests skip (or fail under CI, as missingTools says). */
export const chromiumMissing = (subject: string) => missingTools(subject, { chromium: executablePath });

/**
 * Headless Chromium for the enclosing describe block, launched in beforeAll and closed in afterAll; the flags
 * keep it from reaching for the network on its own (this machine has none).
 */
export function useChromium(): { browser: Browser } {
  const launched = {} as { browser: Browser };
  beforeAll(async () => {
    launched.browser = await chromium.launch({
      executablePath: executablePath as string,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
      ],
    });
  });
  afterAll(async () => {
    await launched.browser?.close();
  });
  return launched;
}
