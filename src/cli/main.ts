/**
 * The `mtsa` command line. The only module that reads process.argv and process.env; everything
 * below it receives explicit options. Commands catch their errors, print the message (the cause
 * chain with --verbose) and set a non-zero exit code.
 */
import { Command, Option } from 'commander';
import { join, resolve } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { buildArenaInWorkers } from '../arena/build.js';
import { ArenaConfigSchema } from '../arena/config.js';
import { describeSchema, loadRunConfig, RunConfigSchema, tinyRunConfig, type RunConfig } from '../config/run-config.js';
import { ConfigError, MtsaError } from '../core/errors.js';
import { kernelChoice, nativeKernels, useKernels } from '../engine/kernels/index.js';
import { runMtsaJob, type RunEvent } from '../run/run-mtsa.js';
import type { Summary } from '../data/summary.js';
import { describeError, errorDetails } from './errors.js';
import { registerExportCommands } from './export.js';
import { registerAttackCommand } from './attack.js';
import { inspectArena } from './inspect.js';
import { registerJudgeEval } from './judge-eval.js';
import { servedModels } from './served-models.js';
import { registerStage1Data } from './stage1-data.js';
import { addTrainerOptions, withTrainerOptions } from './trainer-options.js';
import { studyCommand } from './study.js';
import { withVariant } from '../config/variants.js';
import { Progress } from './progress.js';

const ABLATIONS = ['last-turn', 'no-thought', 'random-selection', 'mart-style', 'harm-style'] as const;

function cacheDir(option: string | undefined): string {
  return resolve(option ?? process.env.MTSA_CACHE ?? '.mtsa-cache');
}

function setUpKernels(): void {
  const requested = kernelChoice(process.env.MTSA_KERNELS);
  const active = useKernels(requested);
  if (active.name === 'js' && requested !== 'js') {
    process.stderr.write(`mtsa: using portable TypeScript kernels (${nativeKernels().reason}); for 10-50x faster training: apt-get install build-essential && npm rebuild\n`);
  }
}

/** `--tiny` alone, a `--config` file alone, or the file's fields merged over the tiny configuration. */
function configOf(options: { tiny?: boolean; config?: string }): RunConfig {
  return options.tiny ? loadRunConfig(options.config, tinyRunConfig()) : loadRunConfig(options.config);
}

/** the run directory of the running `mtsa run`, for error remedies */
let runDir: string | undefined;

function withAblation(config: RunConfig, ablation: (typeof ABLATIONS)[number] | undefined): RunConfig {
  return ablation ? withVariant(config, ablation) : config;
}

function percent(value: number | null | undefined): string {
  return value === null || value === undefined ? '–' : `${(100 * value).toFixed(1)}%`;
}

function interval(summary: Summary, key: string): string {
  const r = summary.intervals[key];
  if (!r || r.low === null || r.high === null) return '';
  const counts = r.nObjectives !== undefined ? ` (${r.nObjectives} objectives, ${r.nDialogues} dialogues)` : '';
  return `[${percent(r.low)}, ${percent(r.high)}] n=${r.n}${counts}`;
}

export function summaryTable(summary: Summary): string {
  const n = Object.keys(summary.asr.target).length - 1;
  const rows: [string, string, string][] = [];
  const pair = (label: string, key: string, first: number | null, last: number | null, firstName: string, lastName: string) => {
    rows.push([`${label} ${firstName}`, percent(first), interval(summary, `${key}.${firstName}`)]);
    rows.push([`${label} ${lastName}`, percent(last), interval(summary, `${key}.${lastName}`)]);
  };
  pair(`Target ASR under R${n},`, 'asr.target', summary.asr.target.T0, summary.asr.target[`T${n}`], 'T0', `T${n}`);
  pair('Red-team ASR vs T0,', 'asr.redteam', summary.asr.redteam.R0, summary.asr.redteam[`R${n}`], 'R0', `R${n}`);
  pair(
    `Target ASR under R${n} over completed,`,
    'asr.targetCompleted',
    summary.intervals['asr.targetCompleted.T0']?.rate ?? null,
    summary.intervals[`asr.targetCompleted.T${n}`]?.rate ?? null,
    'T0',
    `T${n}`,
  );
  pair('OOD ASR (out-of-domain scripted),', 'oodAsr', summary.oodAsr.T0, summary.oodAsr[`T${n}`], 'T0', `T${n}`);
  for (const name of [...new Set((summary.scripted ?? []).filter((c) => c.domain === 'in-domain').map((c) => c.attacker))]) {
    pair(`In-domain scripted ASR (${name}),`, `scripted.${name}`, summary.intervals[`scripted.${name}.T0`]?.rate ?? null, summary.intervals[`scripted.${name}.T${n}`]?.rate ?? null, 'T0', `T${n}`);
  }
  pair('Over-refusal,', 'overRefusal', summary.overRefusal.T0, summary.overRefusal[`T${n}`], 'T0', `T${n}`);
  pair('Helpfulness,', 'helpfulness', summary.helpfulness.T0, summary.helpfulness[`T${n}`], 'T0', `T${n}`);
  rows.push(['Judge–oracle agreement', percent(summary.judgeOracleAgreement), interval(summary, 'judgeOracleAgreement')]);
  rows.push([
    'Wall time',
    `${(summary.wallSeconds / 60).toFixed(1)} min`,
    `arena build ${summary.arenaBuildSeconds.toFixed(0)} s, kernels ${summary.kernels}${summary.attempts && summary.attempts > 1 ? `, ${summary.attempts} attempts` : ''}`,
  ]);
  const width = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([a, b, c]) => `  ${a.padEnd(width)}  ${b.padStart(6)}  ${c}`).join('\n');
}

function progressHandler(progress: Progress) {
  return (event: RunEvent) => {
    const phase = event.source === 'arena' ? `arena/${event.phase}` : event.phase;
    if (event.type === 'phase-progress') progress.update(phase, event.done, event.total);
    else if (event.type === 'phase-end') {
      const detail = 'detail' in event && event.detail ? `: ${event.detail}` : '';
      const cached = event.cached ? ' (cached)' : '';
      const seconds = !event.cached && 'seconds' in event && event.seconds > 0.5 ? ` in ${event.seconds.toFixed(0)} s` : '';
      progress.line(`✓ ${phase}${cached}${seconds}${detail}`);
    }
  };
}

async function main(argv: string[]): Promise<void> {
  const program = new Command();
  program.name('mtsa').description('Multi-turn red-teaming and safety alignment (MTSA, ACL 2025) on an offline synthetic arena').option('--verbose', 'print full error causes');

  addTrainerOptions(program.command('run'))
    .description('build or reuse the arena, run Stage 1 and the Stage 2 iterations, evaluate, and write the run directory')
    .option('-c, --config <file>', 'YAML or JSON run config (see `mtsa config --print`)')
    .option('-o, --out <dir>', 'run directory to create (default: runs/<timestamp>)')
    .option('--resume <dir>', 'continue an interrupted run from its directory')
    .addOption(new Option('--ablation <name>', 'run a baseline with the same seeds').choices([...ABLATIONS]))
    .option('--tiny', 'a seconds-scale configuration (smoke test)')
    .option('--cache <dir>', 'arena cache directory (default: $MTSA_CACHE or .mtsa-cache)')
    .option('--seeds <k>', 'run a study instead: K seeds × every variant on one fixed panel (same as `mtsa study --seeds K`)')
    .action(async (options) => {
      setUpKernels();
      const ignored = ['config', 'ablation', 'tiny', 'out'].filter((name) => options[name] !== undefined);
      if (options.resume && options.seeds === undefined && ignored.length)
        throw new ConfigError(
          `--resume continues a run with the configuration stored in it (${join(options.resume, 'config.resolved.json')}); it cannot also take ${ignored.map((n) => `--${n}`).join(', ')}. Drop ${ignored.length > 1 ? 'them' : 'it'}, or start a new run with --out`,
        );
      const base = withTrainerOptions(configOf(options), options);
      if (options.seeds !== undefined) {
        if (options.ablation) throw new MtsaError('--seeds runs every variant; use `mtsa study --variants mtsa,<variant>` instead of --ablation');
        return studyCommand({ base, seeds: Number(options.seeds), out: options.out, resume: options.resume, cacheDir: cacheDir(options.cache), progressHandler });
      }
      const config = withAblation(base, options.ablation);
      const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
      const outDir = resolve(options.resume ?? options.out ?? join('runs', `${stamp}-mtsa${options.ablation ? `-${options.ablation}` : ''}`));
      runDir = outDir;
      const progress = new Progress();
      progress.line(`mtsa run → ${outDir}${options.resume ? ' (resuming)' : ''}`);
      const summary = await runMtsaJob({
        config,
        outDir,
        cacheDir: cacheDir(options.cache),
        resume: Boolean(options.resume),
        configSource: options.config ?? (options.tiny ? '--tiny' : 'defaults'),
        onEvent: progressHandler(progress),
        log: (l) => progress.line(l),
        env: process.env,
      });
      progress.stop();
      process.stdout.write(
        `\nMTSA summary (${summary.groundTruth === 'judge-only (no oracle)' ? 'judge-only: no oracle for these files' : 'oracle-judged'}; 95% intervals clustered by objective)\n${summaryTable(summary)}\n${summary.warnings?.length ? `\n⚠ ${summary.warnings.length} WARNING(S) above: these figures may be wrong (also in summary.json and the report)` : ''}\n\nreport: ${join(outDir, 'report.html')}\n`,
      );
    });

  program
    .command('study')
    .description(
      "K seeds × variants (mtsa, last-turn, no-thought, random-selection, mart-style, harm-style) in sequence, resumable; every final target on one fixed panel; means with across-seed intervals and the paper's claims",
    )
    .option('-c, --config <file>', 'YAML or JSON run config (the base of every variant)')
    .option('--seeds <k>', 'number of seeds (base seed, base + 1, …)', '3')
    .option('--variants <list>', 'comma-separated, starting with mtsa (default: all six)')
    .option('-o, --out <dir>', 'study directory to create (default: runs/<timestamp>-study)')
    .option('--resume <dir>', 'continue an interrupted study')
    .option('--tiny', 'the tiny configuration (smoke test)')
    .option('--cache <dir>', 'arena cache directory (default: $MTSA_CACHE or .mtsa-cache)')
    .action(async (options) => {
      setUpKernels();
      const base = options.tiny ? tinyRunConfig() : loadRunConfig(options.config);
      await studyCommand({ base, seeds: Number(options.seeds), variants: options.variants, out: options.out, resume: options.resume, cacheDir: cacheDir(options.cache), progressHandler });
    });

  program
    .command('config')
    .description('show the resolved configuration')
    .option('-c, --config <file>', 'YAML or JSON run config')
    .option('--print', 'print the resolved config as YAML (default)')
    .option('--describe', 'list every field with its description')
    .option('--tiny', 'the tiny configuration')
    .action((options) => {
      if (options.describe) {
        for (const { path, description } of describeSchema(RunConfigSchema)) process.stdout.write(`${path}: ${description}\n`);
        return;
      }
      process.stdout.write(toYaml(configOf(options)));
    });

  const arena = program.command('arena').description('the synthetic world and its models');
  arena
    .command('build')
    .description('build the arena models that are missing from the cache')
    .option('-c, --config <file>', 'run config whose `arena` section to use')
    .option('--tiny', 'the tiny configuration')
    .option('--cache <dir>', 'arena cache directory')
    .action(async (options) => {
      setUpKernels();
      const config = configOf(options);
      const progress = new Progress();
      const build = await buildArenaInWorkers(config.arena, { cacheDir: cacheDir(options.cache), workers: config.workers, onEvent: (e) => progressHandler(progress)({ source: 'arena', ...e }) });
      progress.line(`arena ready in ${build.buildSeconds.toFixed(1)} s: ${build.dir}`);
    });
  arena
    .command('inspect')
    .description('samples from every corpus and model; --stats measures the base models on held-out objectives')
    .option('-c, --config <file>', 'run config whose `arena` section to use')
    .option('--tiny', 'the tiny configuration')
    .option('--stats', 'measure ASR per scripted strategy, helpfulness, over-refusal, judge agreement, attacker format')
    .option('--samples <n>', 'samples per corpus', '2')
    .option('--repeats <n>', 'dialogues per held-out objective for --stats', '1')
    .option('--json <file>', 'also write the statistics as JSON')
    .option('--cache <dir>', 'arena cache directory')
    .action(async (options) => {
      setUpKernels();
      const config = configOf(options);
      ArenaConfigSchema.parse(config.arena);
      await inspectArena(config, {
        cacheDir: cacheDir(options.cache),
        stats: Boolean(options.stats),
        samples: Number(options.samples),
        repeats: Number(options.repeats),
        json: options.json,
        progress: new Progress(),
      });
    });

  registerJudgeEval(program, arena, { cacheDir, setUpKernels, served: servedModels(process.env) });
  registerStage1Data(program, { cacheDir, setUpKernels, served: servedModels(process.env) });
  registerExportCommands(program);
  registerAttackCommand(program, { cacheDir, setUpKernels });

  try {
    await program.parseAsync(argv);
  } catch (error) {
    process.stderr.write(`mtsa: ${describeError(error, { runDir })}\n`);
    if (program.opts().verbose) process.stderr.write(`${errorDetails(error)}\n`);
    process.exitCode = 1;
  }
}

await main(process.argv);
