import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type Browser, chromium } from 'playwright-core';
import { useListeningTestApp } from '../support/app';
import { missingTools } from '../support/tools';

const executablePath = Bun.which('chromium') ?? Bun.which('chromium-browser');
const chromiumMissing = missingTools('the docs page offline', { chromium: executablePath });

// The docs page must work on a machine with no internet: a real browser loads it, and every request it makes
// is recorded. Anything aimed at another host is refused, as a closed network would.
describe.skipIf(chromiumMissing)('the /docs page in a real browser', () => {
  const server = useListeningTestApp();
  let browser: Browser;

  beforeAll(async () => {
    browser = await chromium.launch({
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
    await browser?.close();
  });

  test('renders every route with no request leaving this host', async () => {
    const page = await browser.newPage();
    const offHost: string[] = [];
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(server.url) || url.startsWith('data:') || url.startsWith('blob:'))
        return route.continue();
      offHost.push(url);
      return route.abort();
    });
    await page.goto(`${server.url}/docs`, { waitUntil: 'networkidle' });
    await page.getByText('Create a loan').first().waitFor({ timeout: 15_000 });
    const text = await page.locator('body').textContent();
    // Loans opens expanded; the other groups are listed collapsed.
    for (const label of ['List loans, newest first', 'Read one loan', 'Stats', 'Operations', 'Models']) {
      expect(text).toContain(label);
    }
    await page.waitForTimeout(1000);
    expect(offHost).toEqual([]);
  });
});
