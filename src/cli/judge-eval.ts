/**
 * `mtsa judge-eval --judge SPEC --labels FILE [--judge2 SPEC]`: how far to trust a judge, on a
 * labelled JSONL file. `mtsa arena export-labels --out FILE`: the arena's oracle-labelled
 * transcripts as such a file.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadPolicy } from '../arena/agents.js';
import { buildArena } from '../arena/build.js';
import { arenaLabelledTranscripts } from '../arena/labelled-transcripts.js';
import { loadRunConfig, tinyRunConfig } from '../config/run-config.js';
import type { Rate } from '../core/stats.js';
import { LabelledTranscriptSchema, loadLabelledTranscripts } from '../data/loaders/labelled-transcripts.js';
import type { JudgeMetrics } from '../eval/judge-agreement.js';
import { evaluateJudges, type JudgeEvalReport } from '../eval/judge-eval.js';
import { judgeSpecHelp, resolveJudgeSpec, type ServedModels } from './judge-spec.js';
import { Progress } from './progress.js';

const pct = (r: Rate) => (r.rate === null ? '–' : `${(100 * r.rate).toFixed(1)}% [${(100 * r.low!).toFixed(1)}, ${(100 * r.high!).toFixed(1)}]`);
const num = (v: number | null, digits = 3) => (v === null ? '–' : v.toFixed(digits));

function metricRows(m: JudgeMetrics): [string, string][] {
  return [
    ['n', String(m.n)],
    ['accuracy', pct(m.accuracy)],
    ['recall on unsafe', `${pct(m.recallUnsafe)} (n=${m.recallUnsafe.n})`],
    ['specificity', `${pct(m.specificity)} (n=${m.specificity.n})`],
    ['undetermined', `${pct(m.undetermined)} (${m.undetermined.successes})`],
    ['accuracy when determined', pct(m.accuracyDetermined)],
    ['Brier (determined)', num(m.brier, 4)],
    ['κ vs labels', num(m.kappaVsLabels)],
    [
      'confusion',
      `TP ${m.confusion.truePositive} FN ${m.confusion.falseNegative} FP ${m.confusion.falsePositive} TN ${m.confusion.trueNegative} undetermined ${m.confusion.undeterminedUnsafe}+${m.confusion.undeterminedSafe}`,
    ],
  ];
}

export function formatJudgeEval(report: JudgeEvalReport, labelsPath: string): string {
  const lines: string[] = [`judge-eval on ${labelsPath} (n=${report.n}; 95% Wilson intervals; undetermined counts as wrong)`];
  for (const r of report.results) {
    lines.push('', `== ${r.judgeId}`);
    const rows = metricRows(r.metrics);
    const width = Math.max(...rows.map(([k]) => k.length));
    for (const [k, v] of rows) lines.push(`  ${k.padEnd(width)}  ${v}`);
    lines.push('  calibration (P(unsafe) bin: n, mean P(unsafe), labelled-unsafe rate):');
    for (const b of r.metrics.calibration)
      lines.push(`    [${b.lo.toFixed(1)}, ${b.hi.toFixed(1)}${b.hi === 1 ? ']' : ')'}: ${String(b.n).padStart(5)}  ${b.meanPUnsafe.toFixed(3)}  ${b.unsafeRate.toFixed(3)}`);
    if (r.bySource.length > 1) {
      lines.push('  by source (accuracy, recall on unsafe, specificity, n):');
      for (const s of r.bySource)
        lines.push(`    ${s.source.padEnd(28)} ${pct(s.metrics.accuracy).padEnd(22)} ${pct(s.metrics.recallUnsafe).padEnd(22)} ${pct(s.metrics.specificity).padEnd(22)} ${s.metrics.n}`);
    }
  }
  if (report.comparison)
    lines.push('', `Cohen's κ between ${report.results[0].judgeId} and ${report.results[1].judgeId}: ${num(report.comparison.kappa)} (same verdict on ${pct(report.comparison.agreement)})`);
  return lines.join('\n');
}

export interface JudgeEvalCliHooks {
  cacheDir: (option: string | undefined) => string;
  setUpKernels: () => void;
  /** the served-model wiring (model specs); absent until the HTTP backend is merged */
  served?: ServedModels;
}

export function registerJudgeEval(program: Command, arena: Command, hooks: JudgeEvalCliHooks): void {
  program
    .command('judge-eval')
    .description('measure a judge on a labelled JSONL file (accuracy, recall on unsafe, specificity, calibration, Cohen κ between two judges)')
    .requiredOption('--judge <spec>', `judge to measure: ${judgeSpecHelp()}`)
    .requiredOption('--labels <file>', 'JSONL of {conversation, label: safe|unsafe, id?, category?, source?} (e.g. from `mtsa arena export-labels`)')
    .option('--judge2 <spec>', 'a second judge, for Cohen κ between the two')
    .option('--json <file>', 'also write the figures as JSON')
    .option('-c, --config <file>', 'run config (its arena section, for arena-guard)')
    .option('--tiny', 'the tiny configuration (its arena, for arena-guard)')
    .option('--cache <dir>', 'arena cache directory (default: $MTSA_CACHE or .mtsa-cache)')
    .action(async (options) => {
      hooks.setUpKernels();
      const config = options.tiny ? tinyRunConfig() : loadRunConfig(options.config);
      const transcripts = loadLabelledTranscripts(options.labels);
      // Transcripts that name their objective let HarmBench grade against it (keyed by the very conversation arrays judged).
      const objectives = new Map(
        transcripts.filter((t) => t.objective !== undefined).map((t) => [t.conversation as readonly unknown[], { behavior: t.objective!, ...(t.context ? { context: t.context } : {}) }]),
      );
      const context = { config, cacheDir: hooks.cacheDir(options.cache), served: hooks.served, behaviorOf: (c: readonly unknown[]) => objectives.get(c) };
      const judges = [resolveJudgeSpec(options.judge, context), ...(options.judge2 ? [resolveJudgeSpec(options.judge2, context)] : [])];
      const progress = new Progress();
      const started = performance.now();
      const report = await evaluateJudges(judges, transcripts, { onProgress: (id, done, total) => progress.update(`judging (${id})`, done, total) });
      progress.stop();
      process.stdout.write(`${formatJudgeEval(report, options.labels)}\n\n(${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
      if (options.json)
        writeFileSync(options.json, JSON.stringify({ labels: options.labels, n: report.n, results: report.results.map(({ judgements: _, ...r }) => r), comparison: report.comparison }, null, 2));
    });

  arena
    .command('export-labels')
    .description(
      "write the arena's oracle-labelled transcripts (every turn of the scripted attackers against the base target on held-out objectives, plus benign/borderline replies) as a judge-eval labels file",
    )
    .requiredOption('-o, --out <file>', 'JSONL file to write')
    .option('--repeats <n>', 'dialogues per held-out objective and scripted attacker', '1')
    .option('-c, --config <file>', 'run config whose `arena` section to use')
    .option('--tiny', 'the tiny configuration')
    .option('--cache <dir>', 'arena cache directory')
    .action(async (options) => {
      hooks.setUpKernels();
      const config = options.tiny ? tinyRunConfig() : loadRunConfig(options.config);
      const progress = new Progress();
      const build = buildArena(config.arena, {
        cacheDir: hooks.cacheDir(options.cache),
        onEvent: (e) => (e.type === 'phase-progress' ? progress.update(`arena/${e.phase}`, e.done, e.total) : undefined),
      });
      const target = loadPolicy(build.checkpoints.target, 'arena:target', config.seed);
      const records = await arenaLabelledTranscripts(build, target, {
        maxTurns: config.arena.maxTurns,
        repeats: Number(options.repeats),
        seed: config.seed,
        scriptedAttacker: config.arena.scriptedAttacker,
        onProgress: (l) => progress.line(`  ${l}`),
      });
      writeFileSync(options.out, records.map((r) => JSON.stringify(LabelledTranscriptSchema.parse(r))).join('\n') + '\n');
      const unsafe = records.filter((r) => r.label === 'unsafe').length;
      progress.line(`wrote ${records.length} oracle-labelled transcripts (${unsafe} unsafe, ${records.length - unsafe} safe) to ${options.out}`);
    });
}
