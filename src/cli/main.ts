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
import { MtsaError } from '../core/errors.js';
import { blasKernels, useKernels } from '../engine/kernels/index.js';
import { runMtsaJob, type RunEvent } from '../run/run-mtsa.js';
import type { Summary } from '../data/summary.js';
import { inspectArena } from './inspect.js';
import { Progress } from './progress.js';

const ABLATIONS = ['last-turn', 'no-thought', 'random-selection'] as const;

function cacheDir(option: string | undefined): string {
  return resolve(option ?? process.env.MTSA_CACHE ?? '.mtsa-cache');
}

function setUpKernels(): void {
  const requested = (process.env.MTSA_KERNELS ?? 'auto') as 'auto' | 'js' | 'blas';
  const active = useKernels(requested);
  if (active.name === 'js' && requested !== 'js') {
    process.stderr.write(`mtsa: using portable TypeScript kernels (${blasKernels().reason}); for 10-50x faster training: apt-get install libopenblas-dev && npm rebuild\n`);
  }
}

function withAblation(config: RunConfig, ablation: (typeof ABLATIONS)[number] | undefined): RunConfig {
  if (ablation === 'last-turn') return { ...config, mtsa: { ...config.mtsa, reward: 'last-turn' } };
  if (ablation === 'no-thought') return { ...config, mtsa: { ...config.mtsa, attacker: 'no-thought' } };
  if (ablation === 'random-selection') return { ...config, mtsa: { ...config.mtsa, selection: 'random' } };
  return config;
}

function percent(value: number | null | undefined): string {
  return value === null || value === undefined ? '–' : `${(100 * value).toFixed(1)}%`;
}

function interval(summary: Summary, key: string): string {
  const r = summary.intervals[key];
  return r && r.low !== null && r.high !== null ? `[${percent(r.low)}, ${percent(r.high)}] n=${r.n}` : '';
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
  pair('OOD ASR (crescendo),', 'oodAsr', summary.oodAsr.T0, summary.oodAsr[`T${n}`], 'T0', `T${n}`);
  pair('Over-refusal,', 'overRefusal', summary.overRefusal.T0, summary.overRefusal[`T${n}`], 'T0', `T${n}`);
  pair('Helpfulness,', 'helpfulness', summary.helpfulness.T0, summary.helpfulness[`T${n}`], 'T0', `T${n}`);
  rows.push(['Judge–oracle agreement', percent(summary.judgeOracleAgreement), interval(summary, 'judgeOracleAgreement')]);
  rows.push(['Wall time', `${(summary.wallSeconds / 60).toFixed(1)} min`, `arena build ${summary.arenaBuildSeconds.toFixed(0)} s, kernels ${summary.kernels}`]);
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

  program
    .command('run')
    .description('build or reuse the arena, run Stage 1 and the Stage 2 iterations, evaluate, and write the run directory')
    .option('-c, --config <file>', 'YAML or JSON run config (see `mtsa config --print`)')
    .option('-o, --out <dir>', 'run directory to create (default: runs/<timestamp>)')
    .option('--resume <dir>', 'continue an interrupted run from its directory')
    .addOption(new Option('--ablation <name>', 'run a baseline with the same seeds').choices([...ABLATIONS]))
    .option('--tiny', 'a seconds-scale configuration (smoke test)')
    .option('--cache <dir>', 'arena cache directory (default: $MTSA_CACHE or .mtsa-cache)')
    .action(async (options) => {
      setUpKernels();
      const base = options.tiny ? tinyRunConfig() : loadRunConfig(options.config);
      const config = withAblation(base, options.ablation);
      const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
      const outDir = resolve(options.resume ?? options.out ?? join('runs', `${stamp}-mtsa${options.ablation ? `-${options.ablation}` : ''}`));
      const progress = new Progress();
      progress.line(`mtsa run → ${outDir}${options.resume ? ' (resuming)' : ''}`);
      const summary = await runMtsaJob({ config, outDir, cacheDir: cacheDir(options.cache), resume: Boolean(options.resume), onEvent: progressHandler(progress), log: (l) => progress.line(l) });
      progress.stop();
      process.stdout.write(`\nMTSA summary (oracle-judged; 95% Wilson intervals)\n${summaryTable(summary)}\n\nreport: ${join(outDir, 'report.html')}\n`);
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
      const config = options.tiny ? tinyRunConfig() : loadRunConfig(options.config);
      process.stdout.write(toYaml(config));
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
      const config = options.tiny ? tinyRunConfig() : loadRunConfig(options.config);
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
      const config = options.tiny ? tinyRunConfig() : loadRunConfig(options.config);
      ArenaConfigSchema.parse(config.arena);
      await inspectArena(config, { cacheDir: cacheDir(options.cache), stats: Boolean(options.stats), samples: Number(options.samples), repeats: Number(options.repeats), json: options.json, progress: new Progress() });
    });

  try {
    await program.parseAsync(argv);
  } catch (error) {
    const verbose = program.opts().verbose;
    const message = error instanceof MtsaError || (error as Error).name === 'ZodError' ? (error as Error).message : String((error as Error)?.stack ?? error);
    process.stderr.write(`mtsa: ${message}\n`);
    if (verbose) {
      let cause = (error as Error).cause;
      while (cause) {
        process.stderr.write(`  caused by: ${(cause as Error).stack ?? cause}\n`);
        cause = (cause as Error).cause;
      }
    }
    process.exitCode = 1;
  }
}

await main(process.argv);
