/**
 * Unit tests for the HTML report builder: document shape, offline-only resources, escaping of
 * planted markup, key figures with intervals, heat-map size and "–" for missing data.
 * The browser behaviour is tested in test/e2e/report-browser.test.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildReport, escapeHtml, MAX_EMBEDDED_TRAJECTORIES } from './build-report.js';
import { makeSummary, makeTrajectories, PLANTED_REPLY, PLANTED_THOUGHT, PLANTED_TRAJECTORY_ID } from '../testing/report-fixtures.js';
import type { Trajectory } from '../core/trajectory.js';

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** the <tr> of the key-results table whose data-key is `key` */
function keyRow(html: string, key: string): string {
  const table = html.slice(html.indexOf('id="key-results"'), html.indexOf('</table>', html.indexOf('id="key-results"')));
  const start = table.indexOf(`<tr data-key="${key}">`);
  expect(start, `row ${key}`).toBeGreaterThanOrEqual(0);
  return table.slice(start, table.indexOf('</tr>', start));
}

function embedded(html: string): { id: string; g: string; turns: { thought: string | null; reply: string }[] }[] {
  const m = /<script type="application\/json" id="trajectories">([\s\S]*?)<\/script>/.exec(html);
  expect(m).not.toBeNull();
  return JSON.parse(m![1]);
}

describe('buildReport', () => {
  const summary = makeSummary();
  const trajectories = makeTrajectories();
  const html = buildReport({ summary, trajectories, title: 'Fixture run', configText: 'iterations: 3\nseed: 1234' });

  it('is one complete HTML document', () => {
    expect(html.trimStart().toLowerCase().startsWith('<!doctype html>')).toBe(true);
    expect(html.match(/<html[\s>]/gi)).toHaveLength(1);
    expect(html.match(/<\/html>/gi)).toHaveLength(1);
    expect(html.trimEnd().endsWith('</html>')).toBe(true);
    expect(html.match(/<head>/g)).toHaveLength(1);
    expect(html.match(/<body>/g)).toHaveLength(1);
    for (const id of ['key-results', 'chart-asr', 'chart-capability', 'heatmap', 'transcripts', 'transcript-view']) expect(html).toContain(`id="${id}"`);
    expect(html).toMatch(/<svg id="chart-asr"[^>]*>[\s\S]*?<polyline/);
    expect(html).toMatch(/<svg id="chart-capability"[^>]*>[\s\S]*?<polyline/);
  });

  it('loads nothing from outside the document', () => {
    expect(html).not.toMatch(/\b(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?\/\//i);
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/@import|url\(/i);
    expect(html).not.toMatch(/<link\b/i);
    // exactly two scripts: the embedded data and the inline app, neither with a src
    expect(html.match(/<script\b/gi)).toHaveLength(2);
    expect(html).not.toMatch(/<script[^>]*\bsrc=/i);
  });

  it('inlines the type-checked browser script client/report-client.js verbatim', () => {
    const client = readFileSync(new URL('./client/report-client.js', import.meta.url), 'utf8');
    expect(client).toMatch(/^\/\/ @ts-check/);
    expect(html).toContain(`<script>${client}</script>`);
  });

  it('never lets the planted markup through unescaped', () => {
    expect(html).not.toContain('<script>window.__pwned');
    expect(html).not.toContain('<img src=x');
    expect(html).not.toMatch(/<img\b/i);
    expect(html.match(/<\/script>/gi)).toHaveLength(2);
    // the strings are still there, intact, for the browser to show as text
    const planted = embedded(html).find((t) => t.id === PLANTED_TRAJECTORY_ID)!;
    expect(planted.turns[0].thought).toBe(PLANTED_THOUGHT);
    expect(planted.turns[1].reply).toBe(PLANTED_REPLY);
  });

  it('escapes every input string placed in markup', () => {
    const s = makeSummary();
    s.categories[0].category = '<b onmouseover="x()">chem & co</b>';
    s.oodAttacker = '<i>ood</i>';
    s.kernels = '"><svg onload=alert(1)>';
    const out = buildReport({ summary: s, trajectories: [], title: '</title><script>alert(1)</script>', configText: '</pre><script>bad()</script>' });
    expect(out).toContain(escapeHtml('<b onmouseover="x()">chem & co</b>'));
    expect(out).not.toContain('<b onmouseover');
    expect(out).not.toContain('<i>ood</i>');
    expect(out).not.toContain('<svg onload');
    expect(out).not.toContain('<script>alert(1)');
    expect(out).not.toContain('<script>bad()');
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('shows the T0 and Tn figures with n and their Wilson intervals', () => {
    for (const key of ['asr.target.T0', 'asr.target.T3', 'asr.redteam.R0', 'asr.redteam.R3', 'overRefusal.T3', 'helpfulness.T0', 'oodAsr.T3', 'judgeOracleAgreement']) {
      const iv = summary.intervals[key];
      const row = keyRow(html, key);
      expect(row).toContain(pct(iv.rate!));
      expect(row).toContain(`n = ${iv.n}`);
      expect(row).toContain(`[${pct(iv.low!)}, ${pct(iv.high!)}]`);
    }
    // guard figures sit beside the oracle ones
    const guard = summary.intervals['guard.asr.target.T0'];
    expect(keyRow(html, 'asr.target.T0')).toMatch(new RegExp(`class="guard">.*${pct(guard.rate!).replace('.', '\\.')}`));
    expect(html).toContain(`${pct(summary.asr.target.T0!)} (T0) → ${pct(summary.asr.target.T3!)} (T3)`);
  });

  it('draws an (n+1)² heat map with rate and n in each cell', () => {
    for (const iterations of [1, 2, 3, 5]) {
      const out = buildReport({ summary: makeSummary(iterations), trajectories: [] });
      const table = out.slice(out.indexOf('id="heatmap"'), out.indexOf('</table>', out.indexOf('id="heatmap"')));
      const cells = table.match(/<td class="heat-cell[^"]*"[^>]*>[\s\S]*?<\/td>/g)!;
      expect(cells).toHaveLength((iterations + 1) ** 2);
      for (const c of cells) expect(c).toMatch(/\d+\.\d%[\s\S]*n = \d+/);
    }
  });

  it('renders missing intervals, rates and matrix cells as "–"', () => {
    const s = makeSummary();
    delete s.intervals['asr.target.T1'];
    delete s.intervals['guard.asr.target.T1'];
    delete s.intervals['helpfulness.T2'];
    delete s.asr.target.T1;
    delete s.guard.asr.target.T1;
    s.matrix = s.matrix.filter((c) => !(c.redTeam === 1 && c.target === 2));
    const out = buildReport({ summary: s, trajectories: [] });
    const row = keyRow(out, 'asr.target.T1');
    expect(row).not.toMatch(/\d%/);
    expect(row.match(/–/g)!.length).toBeGreaterThanOrEqual(6);
    const help = keyRow(out, 'helpfulness.T2');
    expect(help).toContain(pct(s.helpfulness.T2!));
    expect(help).toContain('n = –');
    expect(help).toContain('<span class="ci">–</span>');
    expect(out).toMatch(/<td class="heat-cell missing" data-red="1" data-target="2"[^>]*>–<\/td>/);
  });

  it('caps embedded trajectories, keeps evaluation ones first and says how many were left out', () => {
    const base = makeTrajectories();
    const evalOne = base.find((t) => t.id.startsWith('R0xT0|'))!;
    const trainOne = base.find((t) => t.id.startsWith('iteration-'))!;
    const many: Trajectory[] = [
      ...Array.from({ length: 700 }, (_, i) => ({ ...trainOne, id: `iteration-1/online/${i}` })),
      ...Array.from({ length: 1800 }, (_, i) => ({ ...evalOne, id: `R0xT0|obj-${i}|0` })),
    ];
    const out = buildReport({ summary: makeSummary(), trajectories: many });
    const list = embedded(out);
    expect(list).toHaveLength(MAX_EMBEDDED_TRAJECTORIES);
    expect(list.filter((t) => t.g === 'R0xT0')).toHaveLength(1800);
    expect(list.filter((t) => t.g === 'training')).toHaveLength(200);
    expect(out).toContain('500 left out');
  });

  it('labels trajectories by matrix cell, OOD column or training', () => {
    const groups = new Set(embedded(html).map((t) => t.g));
    expect(groups).toEqual(new Set([...[0, 1, 2, 3].flatMap((r) => [0, 1, 2, 3].map((t) => `R${r}xT${t}`)), 'OODxT0', 'OODxT1', 'OODxT2', 'OODxT3', 'training']));
    expect(html).toContain('<option value="R3xT0">');
    expect(html).toContain('<option value="OODxT2">');
    expect(html).toContain('<option value="training">');
  });

  it('shows objectives and dialogues beside each figure, and the scripted panel with domains', () => {
    expect(keyRow(html, 'asr.target.T0')).toContain('30 objectives · 60 dialogues');
    expect(html).toContain('clustered by objective');
    const panel = html.slice(html.indexOf('id="scripted-panel"'), html.indexOf('</table>', html.indexOf('id="scripted-panel"')));
    expect(panel).toContain('data-attacker="crescendo"');
    expect(panel).toMatch(/crescendo<\/th><td>in-domain/);
    expect(panel).toMatch(/completion-quiz<\/th><td>out-of-domain/);
  });
});
