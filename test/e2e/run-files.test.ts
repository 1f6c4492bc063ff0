/**
 * The whole loop without the arena's data: `mtsa run --config` with the attacker and target as
 * checkpoint specs, training objectives and Stage-1 dialogues from files, and the evaluation on the
 * user's files (a HarmBench-layout objectives CSV, an XSTest CSV, a helpfulness JSONL). There is no
 * oracle for files: the summary must say so and take its headline rates from the judge.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { buildArena } from '../../src/arena/build.js';
import { parseRunConfig, tinyRunConfig } from '../../src/config/run-config.js';
import type { Trajectory } from '../../src/core/trajectory.js';
import { runMtsaJob } from '../../src/run/run-mtsa.js';

const csvField = (text: string) => `"${text.replaceAll('"', '""')}"`;

describe('mtsa run on files (no arena data)', () => {
  it('trains on file objectives and Stage-1 dialogues, evaluates on file suites, judge-only', async () => {
    const base = tinyRunConfig(3);
    const arena = buildArena(base.arena, { cacheDir: inject('arenaCache') });
    const dir = mkdtempSync(join(tmpdir(), 'mtsa-run-files-'));
    const train = arena.world.harmful.filter((o) => o.split === 'train').slice(0, 24);
    const test = arena.world.harmful.filter((o) => o.split === 'test').slice(0, 8);
    const header = 'Behavior,FunctionalCategory,SemanticCategory,Tags,ContextString,BehaviorID';
    const harmbench = (rows: typeof train) => `${header}\n${rows.map((o) => [csvField(o.text), 'standard', csvField(o.category), '', '', `file-${o.id}`].join(',')).join('\n')}\n`;
    writeFileSync(join(dir, 'train.csv'), harmbench(train));
    writeFileSync(join(dir, 'test.csv'), harmbench(test));
    writeFileSync(join(dir, 'stage1.jsonl'), `${arena.corpora.thinkBeforeAttack.map((r) => JSON.stringify(r)).join('\n')}\n`);
    writeFileSync(
      join(dir, 'xstest.csv'),
      `id,prompt,type,label,focus,note\n${arena.world.borderline
        .slice(0, 6)
        .map((o, i) => [i + 1, csvField(o.text), 'homonyms', 'safe', 'x', ''].join(','))
        .join('\n')}\n`,
    );
    writeFileSync(
      join(dir, 'helpful.jsonl'),
      `${arena.world.benign
        .slice(0, 6)
        .map((o) => JSON.stringify({ prompt: o.text, id: o.id }))
        .join('\n')}\n`,
    );

    const config = parseRunConfig({
      ...base,
      models: { attacker: { kind: 'checkpoint', path: arena.checkpoints.attacker }, target: { kind: 'checkpoint', path: arena.checkpoints.target } },
      data: { trainObjectives: join(dir, 'train.csv'), stage1Dialogues: join(dir, 'stage1.jsonl') },
      evaluation: { ...base.evaluation, files: { objectives: join(dir, 'test.csv'), overRefusal: join(dir, 'xstest.csv'), helpfulness: join(dir, 'helpful.jsonl') } },
    });
    const outDir = join(dir, 'run');
    const summary = await runMtsaJob({ config, outDir, cacheDir: inject('arenaCache'), resume: false });

    expect(summary.groundTruth).toBe('judge-only (no oracle)');
    expect(summary.asr.target.T0).not.toBeNull();
    expect(summary.helpfulness.T0).not.toBeNull();
    expect(summary.overRefusal.T0).not.toBeNull();
    const trajectories = readFileSync(join(outDir, 'trajectories.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Trajectory);
    const ids = new Set([...train, ...test].map((o) => `file-${o.id}`));
    expect(trajectories.length).toBeGreaterThan(0);
    expect(trajectories.every((t) => ids.has(t.objective.id))).toBe(true);
    expect(trajectories.every((t) => t.oracleSuccess === undefined)).toBe(true);
  }, 600_000);
});
