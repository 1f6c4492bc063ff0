/**
 * A study end to end on the tiny arena, in-process: two variants (mtsa and the MART-style
 * baseline, whose single-turn training still faces the multi-turn panel), one seed, the fixed
 * panel, the summary and the report; then a resume that reuses every finished run and panel cell.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { parseRunConfig, tinyRunConfig } from '../../src/config/run-config.js';
import { StudySummarySchema } from '../../src/data/study-summary.js';
import { runStudy, STUDY_FILES } from '../../src/run/run-study.js';

/** The tiny run, trimmed further: a study runs it once per variant. */
function smallConfig() {
  const tiny = tinyRunConfig(1);
  return parseRunConfig(
    {
      ...tiny,
      mtsa: {
        ...tiny.mtsa,
        goalsPerIteration: 16,
        stage1: { topK: 100, train: { epochs: 1, batchSize: 16, lr: 3e-3 } },
        redTeam: { ...tiny.mtsa.redTeam, maxGroups: 4, rolloutBudget: 6 },
        target: { ...tiny.mtsa.target, maxPairs: 6 },
      },
      evaluation: { ...tiny.evaluation, repeats: 1, matrix: 'diagonal-and-edges' },
    },
    'study test',
  );
}

describe('mtsa study on the tiny arena', () => {
  it("runs every variant, scores each final target on the main run's panel, and resumes without recomputing", async () => {
    const outDir = join(mkdtempSync(join(tmpdir(), 'mtsa-study-')), 'study');
    const options = { definition: { base: smallConfig(), seeds: [1], variants: ['mtsa', 'mart-style'] as ('mtsa' | 'mart-style')[] }, outDir, cacheDir: inject('arenaCache'), resume: false };
    const summary = await runStudy(options);
    StudySummarySchema.parse(JSON.parse(readFileSync(join(outDir, STUDY_FILES.summary), 'utf8')));
    expect(existsSync(join(outDir, 'seed-1', 'mtsa', 'summary.json'))).toBe(true);
    const mart = JSON.parse(readFileSync(join(outDir, 'seed-1', 'mart-style', 'config.resolved.json'), 'utf8'));
    expect(mart.mtsa).toMatchObject({ maxTurns: 1, attacker: 'no-thought', reward: 'last-turn', selection: 'random' });
    expect(mart.evaluation.maxTurns).toBe(2); // evaluated over the main run's turns

    // The panel: the MART-style final target against the main run's R0 and R1 and every scripted attacker.
    const cells = summary.panel[0].cells.filter((c) => c.target === 'mart-style.T1');
    expect(cells.map((c) => c.attacker).sort()).toEqual(['R0', 'R1', 'authority-override', 'completion-quiz', 'crescendo', 'ood-pooled'].sort());
    const objectives = cells.find((c) => c.attacker === 'R1')!.oracle!.nObjectives!;
    expect(objectives).toBeGreaterThan(10);
    for (const c of cells) expect(c.dialogues, c.attacker).toBe(c.attacker === 'ood-pooled' ? 2 * objectives : objectives);
    // Main-run targets come from its own evaluation, on the same panel.
    expect(summary.panel[0].cells.some((c) => c.attacker === 'crescendo' && c.target === 'mtsa.T1')).toBe(true);
    expect(summary.headlines['targetAsr.final']['mart-style'].perSeed[0]).not.toBeNull();
    expect(summary.claims.map((c) => [c.id, c.verdict])).toEqual([
      ['mtsa-vs-mart', 'cannot tell'],
      ['mtsa-vs-mart (ood)', 'cannot tell'],
    ]);
    const html = readFileSync(join(outDir, STUDY_FILES.report), 'utf8');
    expect(html).toContain('data-variant="mart-style"');
    expect(html).toContain('id="claims"');

    // Resume: nothing is recomputed, the figures are the same.
    const panelSteps = readdirSync(join(outDir, 'seed-1', 'panel', 'steps')).sort();
    const stepBytes = panelSteps.map((f) => readFileSync(join(outDir, 'seed-1', 'panel', 'steps', f), 'utf8'));
    const again = await runStudy({ ...options, resume: true });
    expect(readdirSync(join(outDir, 'seed-1', 'panel', 'steps')).sort()).toEqual(panelSteps);
    expect(panelSteps.map((f) => readFileSync(join(outDir, 'seed-1', 'panel', 'steps', f), 'utf8'))).toEqual(stepBytes);
    expect({ ...again, wallSeconds: 0 }).toEqual({ ...summary, wallSeconds: 0 });
  }, 600_000);
});
