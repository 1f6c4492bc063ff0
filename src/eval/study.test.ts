import { describe, expect, it } from 'vitest';
import { wilson } from '../core/stats.js';
import type { PanelCell } from '../data/study-summary.js';
import { StudySummarySchema } from '../data/study-summary.js';
import { makeSummary } from '../testing/report-fixtures.js';
import { summarizeStudy, targetName, type StudySeed } from './study.js';

/** A panel cell whose oracle ASR is k of 20 dialogues. */
const cell = (attacker: string, target: string, k: number): PanelCell => ({
  attacker,
  target,
  oracle: wilson(k, 20),
  guard: wilson(k, 20),
  oracleCompleted: wilson(k, 18),
  dialogues: 20,
  completed: 18,
  dropped: 2,
});

/** Final-target ASR under R1 per seed: mtsa 2, 3, 4 of 20; last-turn 8, 9, 10 of 20; no-thought 2, 6, 1. */
const FINAL: Record<string, number[]> = { mtsa: [2, 3, 4], 'last-turn': [8, 9, 10], 'no-thought': [2, 6, 1] };

function seed(s: number, i: number): StudySeed {
  const panel: PanelCell[] = [cell('R1', 'mtsa.T0', 12), cell('ood-pooled', 'mtsa.T0', 10)];
  for (const [variant, ks] of Object.entries(FINAL)) {
    panel.push(cell('R1', targetName(variant, 1), ks[i]), cell('R0', targetName(variant, 1), ks[i] + 1), cell('ood-pooled', targetName(variant, 1), ks[i] + 2));
  }
  return { seed: s, summaries: { mtsa: makeSummary(1), 'last-turn': makeSummary(1), 'no-thought': makeSummary(1) }, panel };
}

describe('summarizeStudy', () => {
  const summary = summarizeStudy({
    seeds: [seed(1, 0), seed(2, 1), seed(3, 2)],
    variants: ['mtsa', 'last-turn', 'no-thought'],
    iterations: 1,
    panelAttackers: [
      { name: 'R0', kind: 'red-team' },
      { name: 'R1', kind: 'red-team' },
      { name: 'ood-pooled', kind: 'out-of-domain pooled' },
    ],
    wallSeconds: 1,
  });

  it('gives each headline per seed (with its interval) and as a mean with a Student-t interval over seeds', () => {
    StudySummarySchema.parse(summary);
    const h = summary.headlines['targetAsr.final'].mtsa;
    expect(h.perSeed.map((r) => r!.rate)).toEqual([0.1, 0.15, 0.2]);
    expect(h.acrossSeeds.mean).toBeCloseTo(0.15, 12);
    // sd 0.05, t(2) = 4.303: half-width 4.303 · 0.05 / √3
    expect(h.acrossSeeds.high! - 0.15).toBeCloseTo((4.303 * 0.05) / Math.sqrt(3), 10);
    // T0 is the same base target for every variant
    expect(summary.headlines['targetAsr.T0']['last-turn'].acrossSeeds.mean).toBeCloseTo(0.6, 12);
    expect(summary.headlines['targetAsrCompleted.final']['last-turn'].perSeed[0]!.n).toBe(18);
    expect(summary.headlines['oodAsr.final']['no-thought'].perSeed.map((r) => r!.successes)).toEqual([4, 8, 3]);
  });

  it('decides each claim from the paired difference over seeds', () => {
    const future = summary.claims.find((c) => c.id === 'future-vs-last-turn')!;
    // mtsa − last-turn = −0.3 in every seed: the interval excludes 0 on the supporting side
    expect(future.difference.mean).toBeCloseTo(-0.3, 12);
    expect(future.verdict).toBe('supports');
    // mtsa − no-thought = 0, −0.15, +0.15: cannot tell
    expect(summary.claims.find((c) => c.id === 'thought-vs-no-thought (target)')!.verdict).toBe('cannot tell');
    // claims whose variants were not run are left out
    expect(summary.claims.some((c) => c.b === 'mart-style')).toBe(false);
  });

  it('refutes a claim when the difference is on the other side, and cannot tell with one seed', () => {
    const flipped = summarizeStudy({
      seeds: [0, 1, 2].map((i) => ({ ...seed(i + 1, i), panel: seed(i + 1, i).panel.map((c) => (c.target === 'last-turn.T1' && c.attacker === 'R1' ? cell('R1', 'last-turn.T1', 0) : c)) })),
      variants: ['mtsa', 'last-turn'],
      iterations: 1,
      panelAttackers: [],
      wallSeconds: 0,
    });
    expect(flipped.claims[0].verdict).toBe('refutes');
    const one = summarizeStudy({ seeds: [seed(1, 0)], variants: ['mtsa', 'last-turn'], iterations: 1, panelAttackers: [], wallSeconds: 0 });
    expect(one.claims[0].verdict).toBe('cannot tell');
    expect(one.claims[0].note).toMatch(/1 seed/);
  });
});
