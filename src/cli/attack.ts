/**
 * `mtsa attack`: red-team a model you already serve. Flags cover the common case (one
 * OpenAI-compatible target); a config file (`--config`) covers the rest (any role's model spec,
 * sampling, traffic limits). Flags win over the file.
 */
import { type Command, Option } from 'commander';
import { join, resolve } from 'node:path';
import { FLAVOURS } from '../core/backends.js';
import { ConfigError } from '../core/errors.js';
import { tinyArenaConfig } from '../arena/config.js';
import { parseAttackConfig, readConfigFile, type AttackConfig } from '../config/attack-config.js';
import { loadObjectives } from '../data/objectives.js';
import { runAttackJob } from '../run/run-attack.js';
import { Progress } from './progress.js';

const positiveInt = (flag: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(`${flag}: expected a positive integer, got "${value}"`);
  return n;
};

interface AttackFlags {
  targetUrl?: string;
  targetModel?: string;
  targetFlavour?: string;
  targetTemplate?: 'server' | 'ours';
  apiKeyEnv?: string;
  objectives?: string;
  out?: string;
  resume?: string;
  config?: string;
  turns?: number;
  repeats?: number;
  limit?: number;
  concurrency?: number;
  timeoutMs?: number;
  maxRetries?: number;
  seed?: number;
  tiny?: boolean;
  cache?: string;
}

/** The config file with the flags applied on top, validated. */
export function attackConfigFrom(flags: AttackFlags): AttackConfig {
  const raw: Record<string, unknown> = flags.config ? readConfigFile(flags.config) : {};
  const source = flags.config ?? 'command line';
  const models = { ...((raw.models as Record<string, unknown> | undefined) ?? {}) };
  if (flags.targetUrl || flags.targetModel) {
    if (!flags.targetUrl || !flags.targetModel)
      throw new ConfigError('mtsa attack: --target-url and --target-model go together (the server base URL, e.g. http://127.0.0.1:8000/v1, and the model name it serves)');
    const previous = (models.target as Record<string, unknown> | undefined) ?? {};
    const keep = previous.kind === 'openai-compatible' ? previous : {};
    models.target = { ...keep, kind: 'openai-compatible', baseUrl: flags.targetUrl, model: flags.targetModel };
  }
  const target = models.target as Record<string, unknown> | undefined;
  const serverFlags = flags.targetFlavour || flags.targetTemplate || flags.apiKeyEnv || flags.concurrency || flags.timeoutMs || flags.maxRetries !== undefined;
  if (serverFlags) {
    if (target?.kind !== 'openai-compatible')
      throw new ConfigError(
        'mtsa attack: --target-flavour, --target-template, --api-key-env, --concurrency, --timeout-ms and --max-retries apply to a server target: give --target-url and --target-model (or a config whose models.target has kind openai-compatible)',
      );
    const traffic = { ...((target.traffic as Record<string, unknown> | undefined) ?? {}) };
    if (flags.concurrency) traffic.concurrency = flags.concurrency;
    if (flags.timeoutMs) traffic.timeoutMs = flags.timeoutMs;
    if (flags.maxRetries !== undefined) traffic.maxRetries = flags.maxRetries;
    models.target = {
      ...target,
      ...(flags.targetFlavour ? { flavour: flags.targetFlavour } : {}),
      ...(flags.targetTemplate ? { template: flags.targetTemplate } : {}),
      ...(flags.apiKeyEnv ? { apiKeyEnv: flags.apiKeyEnv } : {}),
      traffic,
    };
  }
  const merged: Record<string, unknown> = {
    ...raw,
    models,
    ...(flags.turns ? { maxTurns: flags.turns } : {}),
    ...(flags.repeats ? { repeats: flags.repeats } : {}),
    ...(flags.limit ? { limit: flags.limit } : {}),
    ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
  };
  if (flags.tiny) merged.arena = tinyArenaConfig(typeof merged.seed === 'number' ? merged.seed : 1);
  return parseAttackConfig(merged, source);
}

export function registerAttackCommand(program: Command, setUp: { cacheDir: (option: string | undefined) => string; setUpKernels: () => void }): void {
  program
    .command('attack')
    .description(
      'red-team one target (e.g. a model behind an OpenAI-compatible server) with the MTSA attacker and a judge over an objectives file; writes transcripts, per-objective verdicts, ASR with its interval, summary.json and report.html',
    )
    .option('--target-url <url>', "base URL of the target's OpenAI-compatible server, ending in /v1 (e.g. http://127.0.0.1:8000/v1)")
    .option('--target-model <name>', 'model name the target server serves (GET <url>/models lists them)')
    .addOption(new Option('--target-flavour <flavour>', 'server software, which decides prefill and sampling fields (default generic: free generation)').choices([...FLAVOURS]))
    .addOption(
      new Option('--target-template <which>', "'server': chat completions with the server's chat template (default); 'ours': /v1/completions over mtsa's template (checkpoints made by mtsa)").choices([
        'server',
        'ours',
      ]),
    )
    .option('--api-key-env <NAME>', "environment variable that holds the target's API key (the key itself is never written anywhere)")
    .option('--objectives <file>', 'objectives: CSV with a header column objective/goal/Behavior/prompt (HarmBench behaviours CSV works), or JSONL with one object per line')
    .option('-o, --out <dir>', 'run directory to create (default: runs/<timestamp>-attack)')
    .option('--resume <dir>', 'continue an interrupted or stopped attack from its directory (its objectives and config are reused)')
    .option('-c, --config <file>', 'YAML or JSON attack config: models per role (attacker, target, judge), sampling, traffic limits; flags win over it')
    .option('--turns <n>', 'turns per dialogue (default 5)', positiveInt('--turns'))
    .option('--repeats <n>', 'dialogues per objective (default 1)', positiveInt('--repeats'))
    .option('--limit <n>', 'attack only the first n objectives', positiveInt('--limit'))
    .option('--concurrency <n>', 'target requests in flight at once (default 8)', positiveInt('--concurrency'))
    .option('--timeout-ms <ms>', 'abandon (and retry) a target request after this long (default 120000)', positiveInt('--timeout-ms'))
    .option('--max-retries <n>', 'retries per target request after the first attempt (default 4)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new ConfigError(`--max-retries: expected an integer ≥ 0, got "${v}"`);
      return n;
    })
    .option('--seed <n>', 'seed of the dialogues (default 1)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n)) throw new ConfigError(`--seed: expected an integer, got "${v}"`);
      return n;
    })
    .option('--tiny', 'use the tiny arena for arena-kind attacker and judge (seconds to build; smoke tests)')
    .option('--cache <dir>', 'arena cache directory for arena-kind roles (default: $MTSA_CACHE or .mtsa-cache)')
    .action(async (flags: AttackFlags) => {
      setUp.setUpKernels();
      const config = attackConfigFrom(flags);
      if (!flags.resume && !flags.objectives) throw new ConfigError('mtsa attack: --objectives <file> is required (or --resume <dir>)');
      const objectives = flags.resume ? undefined : loadObjectives(flags.objectives!);
      const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
      const outDir = resolve(flags.resume ?? flags.out ?? join('runs', `${stamp}-attack`));
      const progress = new Progress();
      progress.line(`mtsa attack → ${outDir}${flags.resume ? ' (resuming)' : ''}`);
      const summary = await runAttackJob({
        config,
        objectives,
        outDir,
        cacheDir: setUp.cacheDir(flags.cache),
        resume: Boolean(flags.resume),
        env: process.env,
        log: (l) => progress.line(l),
        onArena: (e) => {
          if (e.type === 'phase-progress') progress.update(`arena/${e.phase}`, e.done, e.total);
          else if (e.type === 'phase-end' && !e.cached) progress.line(`✓ arena/${e.phase} in ${e.seconds.toFixed(0)} s`);
        },
        onProgress: (done, total) => progress.update('dialogues', done, total),
      }).finally(() => progress.stop());
      const pct = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(1)}%`);
      process.stdout.write(
        `\nASR ${pct(summary.asr.rate)} [${pct(summary.asr.low)}, ${pct(summary.asr.high)}] over ${summary.scoredDialogues} scored dialogues; objectives broken ${pct(summary.objectiveAsr.rate)} of ${summary.objectiveAsr.n}\n` +
          `errored dialogues (a model call failed; not scored): ${summary.erroredDialogues}; attacker format failures: ${summary.formatFailures}\n` +
          `report: ${join(outDir, 'report.html')}\n`,
      );
    });
}
