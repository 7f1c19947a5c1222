import { describe, expect, test } from 'bun:test';
import { tmpdir } from 'node:os';
import { useListeningTestApp } from '../support/app';
import { chromiumMissing, useChromium } from '../support/browser';

const skip = chromiumMissing('the docs page offline');

// The docs page must work on a machine with no internet: a real browser loads it, and every request it makes
// is recorded. Anything aimed at another host is refused, as a closed network would.
describe.skipIf(skip)('the /docs page in a real browser', () => {
  const server = useListeningTestApp();
  const chromium = useChromium();

  /** The docs page, with every request it makes recorded and any aimed at another host refused. */
  async function openDocs() {
    const page = await chromium.browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const offHost: string[] = [];
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(server.url) || url.startsWith('data:') || url.startsWith('blob:'))
        return route.continue();
      offHost.push(url);
      return route.abort();
    });
    await page.goto(`${server.url}/docs`, { waitUntil: 'networkidle' });
    await page.getByText('Branch Loans API').first().waitFor({ timeout: 15_000 });
    return { page, offHost };
  }

  test('renders every route with no request leaving this host', async () => {
    const doc = (await (await fetch(`${server.url}/docs/json`)).json()) as {
      tags: { name: string }[];
      paths: Record<string, Record<string, { summary: string; tags: string[] }>>;
    };
    const [firstTag, ...otherTags] = doc.tags.map((tag) => tag.name);
    const { page, offHost } = await openDocs();
    // The first group opens expanded, listing its routes; the other groups are listed collapsed.
    const firstGroupRoutes = Object.values(doc.paths)
      .flatMap((operations) => Object.values(operations))
      .filter((operation) => operation.tags.includes(firstTag ?? ''))
      .map((operation) => operation.summary);
    expect(firstGroupRoutes.length).toBeGreaterThan(2);
    await page
      .getByText(firstGroupRoutes[0] ?? '')
      .first()
      .waitFor({ timeout: 15_000 });
    const text = await page.locator('body').textContent();
    for (const label of [...firstGroupRoutes, ...otherTags, 'Models']) expect(text).toContain(label);
    await page.waitForTimeout(1000);
    expect(offHost).toEqual([]);
  });

  test("shows none of Scalar's hosted-product buttons", async () => {
    const { page } = await openDocs();
    // Served from 127.0.0.1, where Scalar shows its developer tools unless told not to.
    await page.waitForTimeout(1000);
    const text = (await page.locator('body').textContent()) ?? '';
    const hostedProduct = [
      'Generate MCP',
      'Connect MCP',
      'Developer Tools',
      'Configure',
      'Share',
      'Deploy',
      'Open API Client',
      'Ask AI',
    ];
    expect(hostedProduct.filter((label) => text.includes(label))).toEqual([]);
  });

  test('takes a pasted bearer key and puts it in the example requests', async () => {
    const { page } = await openDocs();
    const token = page.getByPlaceholder('Token');
    await token.first().waitFor({ timeout: 5_000 });
    await token.first().fill('dev-officer-key');
    await page.screenshot({ path: `${tmpdir()}/docs-page.png` });
    const snippet = page.locator('pre', { hasText: 'curl' }).first();
    await expect(snippet.textContent()).resolves.toContain('Authorization: Bearer dev-officer-key');
  });
});
