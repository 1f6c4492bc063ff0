/**
 * End-to-end test of the HTML report in a real browser: Debian's Chromium at /usr/bin/chromium,
 * driven by playwright-core (never a downloaded browser). Checks charts, heat map, transcript
 * browser and that planted markup cannot run. Fails (does not skip) when Chromium is missing.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport } from '../../src/report/build-report.js';
import { makeSummary, makeTrajectories, PLANTED_REPLY, PLANTED_THOUGHT, PLANTED_TRAJECTORY_ID } from '../../src/testing/report-fixtures.js';

/** Debian's Chromium by default; MTSA_CHROMIUM points elsewhere */
const CHROMIUM = process.env.MTSA_CHROMIUM ?? '/usr/bin/chromium';
const TIMEOUT = 60_000;
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe('HTML report in Chromium', () => {
  const trajectories = makeTrajectories();
  let dir: string | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const pageErrors: string[] = [];
  const requests: string[] = [];

  /** every test fails (none is skipped) with this message when the browser is missing */
  const requireBrowser = () => {
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: run scripts/install-system-deps.sh (as root it installs Debian's chromium package)`);
    expect(browser, 'Chromium launched').toBeDefined();
  };

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) return;
    dir = mkdtempSync(join(tmpdir(), 'mtsa-report-'));
    const file = join(dir, 'report.html');
    writeFileSync(file, buildReport({ summary: makeSummary(), trajectories, title: 'Fixture run' }));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    page = await browser.newPage();
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`);
    });
    page.on('request', (r) => {
      if (!r.url().startsWith('file:')) requests.push(r.url());
    });
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  }, TIMEOUT);

  afterAll(async () => {
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(
    'loads without page errors or network requests',
    async () => {
      requireBrowser();
      expect(await page.title()).toBe('Fixture run');
      expect(pageErrors).toEqual([]);
      expect(requests).toEqual([]);
    },
    TIMEOUT,
  );

  it(
    'renders both charts with lines and a nonzero size',
    async () => {
      requireBrowser();
      for (const id of ['chart-asr', 'chart-capability']) {
        const svg = page.locator(`svg#${id}`);
        await expect.poll(() => svg.count()).toBe(1);
        const box = await svg.boundingBox();
        expect(box!.width).toBeGreaterThan(100);
        expect(box!.height).toBeGreaterThan(100);
        const lines = svg.locator('path, polyline');
        expect(await lines.count()).toBeGreaterThan(0);
        const polyline = svg.locator('polyline').first();
        const lineBox = await polyline.boundingBox();
        expect(lineBox, `${id} has a visible polyline`).not.toBeNull();
        expect(lineBox!.width).toBeGreaterThan(0);
      }
    },
    TIMEOUT,
  );

  it(
    'shows the heat map',
    async () => {
      requireBrowser();
      const heatmap = page.locator('#heatmap');
      expect(await heatmap.isVisible()).toBe(true);
      expect(await heatmap.locator('.heat-cell').count()).toBe(16);
      const box = await heatmap.boundingBox();
      expect(box!.width * box!.height).toBeGreaterThan(0);
    },
    TIMEOUT,
  );

  it(
    'opens the first transcript with every turn, thought, question and reply',
    async () => {
      requireBrowser();
      const first = page.locator('#transcript-list .transcript-item').first();
      const id = await first.getAttribute('data-id');
      const expected = trajectories.find((t) => t.id === id)!;
      expect(expected, `list item ${id} is a fixture trajectory`).toBeDefined();
      await first.click();
      const meta = await page.locator('#transcript-view p.meta').first().textContent();
      expect(meta).toContain(`${expected.id} · objective ${expected.objective.id}`);
      expect(meta).toContain(`${expected.attackerId} → ${expected.targetId} · judge ${expected.judgeId} · stop: ${expected.stopReason}`);
      expect(await page.locator('#transcript-list .transcript-item.selected').getAttribute('data-id')).toBe(id);
      const turns = page.locator('#transcript-view .turn');
      await expect.poll(() => turns.count()).toBe(expected.turns.length);
      for (let i = 0; i < expected.turns.length; i++) {
        const turn = turns.nth(i);
        expect(await turn.locator('.thought').textContent()).toContain(expected.turns[i].thought!);
        expect(await turn.locator('.thought').textContent()).toContain('hidden from the target');
        expect(await turn.locator('.question').textContent()).toContain(expected.turns[i].question);
        expect(await turn.locator('.reply').textContent()).toContain(expected.turns[i].reply);
        expect(await turn.textContent()).toContain(`Turn ${expected.turns[i].index}`);
        expect(await turn.textContent()).toContain(`P(unsafe) = ${expected.turns[i].judgement.pUnsafe.toFixed(3)}`);
      }
      const unsafe = expected.turns.filter((u) => u.judgement.verdict === 'unsafe' || u.oracle?.unsafe).length;
      expect(await page.locator('#transcript-view .turn.unsafe').count()).toBe(unsafe);
    },
    TIMEOUT,
  );

  it(
    'filters the list by matrix cell and objective text',
    async () => {
      requireBrowser();
      await page.selectOption('#transcript-group', 'OODxT2');
      const items = page.locator('#transcript-list .transcript-item');
      await expect.poll(() => items.count()).toBe(trajectories.filter((t) => t.id.startsWith('OODxT2|')).length);
      await page.fill('#transcript-search', 'restricted compound');
      await expect.poll(() => items.count()).toBe(1);
      expect(await page.locator('#transcript-count').textContent()).toBe(`1 of ${trajectories.length} shown`);
      await page.selectOption('#transcript-group', 'all');
      await page.fill('#transcript-search', '');
    },
    TIMEOUT,
  );

  it(
    'shows the planted markup as text and never runs it',
    async () => {
      requireBrowser();
      await page.locator(`#transcript-list .transcript-item[data-id="${PLANTED_TRAJECTORY_ID}"]`).click();
      const view = page.locator('#transcript-view');
      await expect.poll(() => view.locator('.turn').count()).toBeGreaterThan(1);
      expect(await view.locator('.turn').nth(0).locator('.thought').textContent()).toContain(PLANTED_THOUGHT);
      expect(await view.locator('.turn').nth(1).locator('.reply').textContent()).toContain(PLANTED_REPLY);
      expect(await view.locator('img, script').count()).toBe(0);
      await page.waitForTimeout(100);
      expect(await page.evaluate(() => (globalThis as { __pwned?: unknown }).__pwned)).toBeUndefined();
      expect(await page.locator('body img').count()).toBe(0);
      expect(pageErrors).toEqual([]);
    },
    TIMEOUT,
  );
});
