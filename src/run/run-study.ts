/**
 * `mtsa study` (and `mtsa run --seeds K`): K seeds × variants of the pipeline, in sequence and
 * resumable, then one fixed evaluation panel per seed — every variant's final target against the
 * main (mtsa) run's R0 and final red team and the scripted attackers — so that variants differ in
 * one thing only. Layout of the study directory:
 *
 *   study.json                     what the study is (base config, seeds, variants): authoritative on resume
 *   seed-<s>/<variant>/            an ordinary run directory (`mtsa run`), resumed if incomplete
 *   seed-<s>/panel/                a step store of the panel cells of the variants' final targets
 *   study-summary.json, study-report.html
 *
 * The arena (world and base models) is the base configuration's and the same for every seed;
 * a seed changes Stage 1 and Stage 2 sampling, training order and evaluation sampling.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../core/atomic-write.js';
import { ConfigError } from '../core/errors.js';
import type { Rate } from '../core/stats.js';
import type { Trajectory } from '../core/trajectory.js';
import { buildArena } from '../arena/build.js';
import { loadGuard, loadPolicy } from '../arena/agents.js';
import { arenaSuite } from '../arena/suite.js';
import { RunConfigSchema, type RunConfig } from '../config/run-config.js';
import { withVariant } from '../config/variants.js';
import type { PanelCell, StudySummary } from '../data/study-summary.js';
import { SummarySchema, type Summary } from '../data/summary.js';
import { attackDialogues, cellFigures, scriptedPanel } from '../eval/evaluate.js';
import { summarizeStudy, targetName, type StudySeed } from '../eval/study.js';
import { attackerAgent } from '../mtsa/pipeline.js';
import { VARIANTS, type VariantName } from '../mtsa/variants.js';
import { buildStudyReport } from '../report/study-report.js';
import { FileStepStore, RUN_FILES } from '../storage/run-store.js';
import { runMtsaJob, type RunEvent } from './run-mtsa.js';

export const STUDY_FILES = { definition: 'study.json', summary: 'study-summary.json', report: 'study-report.html' } as const;

export const StudyDefinitionSchema = z
  .object({
    base: RunConfigSchema,
    seeds: z.array(z.number().int()).min(1),
    variants: z.array(z.enum(VARIANTS)).min(1),
  })
  .strict()
  .refine((d) => d.variants[0] === 'mtsa', { message: "the first variant must be mtsa: its red teams are the panel's attackers" });
export type StudyDefinition = z.infer<typeof StudyDefinitionSchema>;

export interface StudyOptions {
  definition: StudyDefinition;
  outDir: string;
  cacheDir: string;
  resume: boolean;
  onEvent?: (event: RunEvent & { run?: string }) => void;
  log?: (line: string) => void;
}

/** K seeds starting at the base seed: base, base + 1, … */
export function studySeeds(base: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => base + i);
}

function prepareStudyDirectory(options: Pick<StudyOptions, 'definition' | 'outDir' | 'resume'>): StudyDefinition {
  const path = join(options.outDir, STUDY_FILES.definition);
  if (options.resume) {
    if (!existsSync(path)) throw new ConfigError(`${options.outDir}: not a study directory (no ${STUDY_FILES.definition}); start a study with --out instead of --resume`);
    const parsed = StudyDefinitionSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    if (!parsed.success) throw new ConfigError(`${path}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    return parsed.data;
  }
  if (existsSync(options.outDir) && readdirSync(options.outDir).length > 0) {
    throw new ConfigError(`${options.outDir} already exists and is not empty; continue it with --resume ${options.outDir}, or choose another --out`);
  }
  mkdirSync(options.outDir, { recursive: true });
  const definition = StudyDefinitionSchema.parse(options.definition);
  writeFileAtomic(path, `${JSON.stringify(definition, null, 2)}\n`);
  return definition;
}

/** A variant's run in one seed: read when finished, resumed when started, else started. */
async function variantRun(definition: StudyDefinition, seed: number, variant: VariantName, options: StudyOptions): Promise<{ dir: string; summary: Summary }> {
  const dir = join(options.outDir, `seed-${seed}`, variant);
  const summaryPath = join(dir, RUN_FILES.summary);
  if (existsSync(summaryPath)) {
    options.log?.(`✓ seed ${seed} ${variant}: finished run reused`);
    return { dir, summary: SummarySchema.parse(JSON.parse(readFileSync(summaryPath, 'utf8'))) };
  }
  const resume = existsSync(join(dir, RUN_FILES.config));
  options.log?.(`seed ${seed} ${variant}: ${resume ? 'resuming' : 'starting'} ${dir}`);
  const config: RunConfig = withVariant({ ...definition.base, seed }, variant);
  const summary = await runMtsaJob({ config, outDir: dir, cacheDir: options.cacheDir, resume, onEvent: (e) => options.onEvent?.({ ...e, run: `seed-${seed}/${variant}` }), log: options.log });
  return { dir, summary };
}

/** The panel cells of the main run's own targets, read from its summary (same panel, same seeds). */
export function mainPanelCells(main: Summary, n: number): PanelCell[] {
  const cells: PanelCell[] = [];
  const counts = (c: { dialogues?: number; completed?: number; dropped: number; guard: Rate }) => ({
    dialogues: c.dialogues ?? c.guard.n,
    completed: c.completed ?? c.guard.n - c.dropped,
    dropped: c.dropped,
  });
  for (const c of main.matrix) {
    if (c.redTeam !== 0 && c.redTeam !== n) continue;
    cells.push({ attacker: `R${c.redTeam}`, target: targetName('mtsa', c.target), oracle: c.oracle, guard: c.guard, oracleCompleted: c.oracleCompleted ?? null, ...counts(c) });
  }
  for (const c of main.scripted ?? [])
    cells.push({ attacker: c.attacker, target: targetName('mtsa', c.target), oracle: c.oracle, guard: c.guard, oracleCompleted: c.oracleCompleted ?? null, ...counts(c) });
  for (let t = 0; t <= n; t++) {
    const ood = (main.scripted ?? []).filter((c) => c.domain === 'out-of-domain' && c.target === t);
    const oracle = main.intervals[`oodAsr.T${t}`] ?? null;
    const guard = main.intervals[`guard.oodAsr.T${t}`];
    if (!guard) continue;
    const dialogues = ood.reduce((a, c) => a + (c.dialogues ?? c.guard.n), 0);
    const dropped = ood.reduce((a, c) => a + c.dropped, 0);
    cells.push({ attacker: 'ood-pooled', target: targetName('mtsa', t), oracle, guard, oracleCompleted: null, dialogues, completed: dialogues - dropped, dropped });
  }
  return cells;
}

function panelCell(attacker: string, target: string, trajectories: readonly Trajectory[]): PanelCell {
  const f = cellFigures(trajectories);
  return { attacker, target, oracle: f.oracleAsr, guard: f.guardAsr, oracleCompleted: f.oracleAsrCompleted, dialogues: f.dialogues, completed: f.completed, dropped: f.dropped };
}

export async function runStudy(options: StudyOptions): Promise<StudySummary> {
  const started = performance.now();
  const definition = prepareStudyDirectory(options);
  const { base, seeds, variants } = definition;
  const n = base.mtsa.iterations;
  const arena = buildArena(base.arena, { cacheDir: options.cacheDir });
  const judge = loadGuard(arena);
  const perSeed: StudySeed[] = [];
  let panelAttackers: StudySummary['panelAttackers'] = [];
  for (const seed of seeds) {
    const summaries: Record<string, Summary> = {};
    const dirs: Record<string, string> = {};
    for (const variant of variants) {
      const run = await variantRun(definition, seed, variant, options);
      summaries[variant] = run.summary;
      dirs[variant] = run.dir;
    }
    // The fixed panel: the main run's R0 and R_n, the scripted attackers, against every other variant's final target.
    const suite = arenaSuite(arena.world, seed);
    const mainConfig = withVariant({ ...base, seed }, 'mtsa');
    const evaluation = { repeats: base.evaluation.repeats, seed, maxTurns: mainConfig.evaluation.maxTurns ?? base.mtsa.maxTurns, targetSampling: base.mtsa.sampling.target };
    const redTeam = (i: number) => ({
      name: `R${i}`,
      make: () => attackerAgent(loadPolicy(join(dirs.mtsa, RUN_FILES.checkpoints, `attacker-R${i}`), `mtsa-R${i}`, seed), mainConfig.mtsa, `mtsa-R${i}`),
    });
    const scripted = scriptedPanel(suite);
    panelAttackers = [
      { name: 'R0', kind: 'red-team' },
      { name: `R${n}`, kind: 'red-team' },
      ...scripted.map((a) => ({ name: a.name, kind: a.domain })),
      { name: 'ood-pooled', kind: 'out-of-domain pooled' },
    ];
    const store = new FileStepStore(join(options.outDir, `seed-${seed}`, 'panel'));
    const panel = mainPanelCells(summaries.mtsa, n);
    const others = variants.filter((v) => v !== 'mtsa');
    const total = others.length * (2 + scripted.length);
    let done = 0;
    for (const variant of others) {
      const name = targetName(variant, n);
      const target = loadPolicy(join(dirs[variant], RUN_FILES.checkpoints, `target-T${n}`), name, seed);
      const ood: Trajectory[] = [];
      for (const attacker of [redTeam(0), redTeam(n), ...scripted]) {
        const key = `panel/${attacker.name}/${name}`;
        options.onEvent?.({ source: 'eval', type: 'phase-progress', phase: `seed-${seed}/panel`, done: done++, total, run: `seed-${seed}/panel` });
        const out = await store.step(key, async () => ({ trajectories: await attackDialogues(suite, attacker.make(), target, judge, `${attacker.name}x${name}`, evaluation) }));
        panel.push(panelCell(attacker.name, name, out.trajectories!));
        if (scripted.some((s) => s.name === attacker.name && s.domain === 'out-of-domain')) ood.push(...out.trajectories!);
      }
      panel.push(panelCell('ood-pooled', name, ood));
    }
    options.log?.(`✓ seed ${seed}: panel of ${panel.length} cells`);
    perSeed.push({ seed, summaries, panel });
  }
  const summary = summarizeStudy({ seeds: perSeed, variants, iterations: n, panelAttackers, wallSeconds: (performance.now() - started) / 1000 });
  writeFileAtomic(join(options.outDir, STUDY_FILES.summary), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(join(options.outDir, STUDY_FILES.report), buildStudyReport(summary));
  return summary;
}
