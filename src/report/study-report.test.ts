import { describe, expect, it } from 'vitest';
import { wilson } from '../core/stats.js';
import type { PanelCell } from '../data/study-summary.js';
import { summarizeStudy } from '../eval/study.js';
import { makeSummary } from '../testing/report-fixtures.js';
import { buildStudyReport } from './study-report.js';

const cell = (attacker: string, target: string, k: number, dropped = 0): PanelCell => ({
  attacker,
  target,
  oracle: { ...wilson(k, 20), nObjectives: 10, nDialogues: 20 },
  guard: wilson(k, 20),
  oracleCompleted: null,
  dialogues: 20,
  completed: 20 - dropped,
  dropped,
});

describe('buildStudyReport', () => {
  const variant = '<b>odd</b>';
  const summary = summarizeStudy({
    seeds: [1, 2].map((seed, i) => ({
      seed,
      summaries: { mtsa: makeSummary(1), [variant]: makeSummary(1) },
      panel: [cell('R1', 'mtsa.T0', 10), cell('R1', 'mtsa.T1', 2 + i), cell('R1', `${variant}.T1`, 6 + 2 * i, 3)],
    })),
    variants: ['mtsa', variant],
    iterations: 1,
    panelAttackers: [{ name: 'R1', kind: 'red-team' }],
    wallSeconds: 90,
  });
  const html = buildStudyReport(summary);

  it('is one offline document with the headlines, claims and a panel matrix per variant', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toMatch(/https?:\/\/|<script|<link/i);
    expect(html).toContain('id="headlines"');
    expect(html).toContain('No claim can be tested with these variants.');
    expect(html.match(/<table class="data panel"/g)).toHaveLength(2);
  });

  it('shows the seed spread and every seed with its clustered interval, and escapes names', () => {
    // mtsa final target: 2 and 3 of 20 → mean 12.5 %, min 10.0 %, max 15.0 %
    const mtsaPanel = html.slice(html.indexOf('data-variant="mtsa"'), html.indexOf('</table>', html.indexOf('data-variant="mtsa"')));
    expect(mtsaPanel).toContain('12.5%');
    expect(mtsaPanel).toContain('min 10.0% · max 15.0%');
    expect(html).toContain('seed 2: 15.0% [');
    expect(html).toContain('10 obj · 20 dial');
    expect(html).toContain('6 dropped');
    expect(html).not.toContain('<b>odd</b>');
    expect(html).toContain('&lt;b&gt;odd&lt;/b&gt;');
  });
});
