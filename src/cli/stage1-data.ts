/**
 * `mtsa stage1-data`: makes Stage-1 data. A capable chat model, given the thought-guided
 * instructions, attacks a target on each objective of a file for up to 5 turns; every reply is
 * judged; successful dialogues are written as the Think-before-Attack JSONL Stage 1 reads.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { DEFAULT_TARGET_SAMPLING } from '../attacks/run-conversation.js';
import { DEFAULT_ATTACKER_SAMPLING } from '../attacks/attacker.js';
import { loadRunConfig, tinyRunConfig } from '../config/run-config.js';
import { loadObjectives, OBJECTIVE_FORMATS, type ObjectiveFormat } from '../data/loaders/objectives.js';
import { generateStage1Data, STRATEGY_NAMES, ThoughtGuidedDataAttacker } from '../mtsa/stage1-data.js';
import type { JudgeEvalCliHooks } from './judge-eval.js';
import { resolveChatModelSpec, resolveJudgeSpec } from './judge-spec.js';
import { Progress } from './progress.js';

export function registerStage1Data(program: Command, hooks: JudgeEvalCliHooks): void {
  program
    .command('stage1-data')
    .description('make Stage-1 data: a capable model attacks a target with the thought-guided format, every turn judged; successful dialogues are written as JSONL')
    .requiredOption('--attacker <spec>', 'chat model that attacks: arena:attacker, checkpoint:<dir>, or a served model')
    .requiredOption('--target <spec>', 'chat model attacked: arena:target, checkpoint:<dir>, or a served model')
    .requiredOption('--judge <spec>', 'judge of every reply (see `mtsa judge-eval --help`)')
    .requiredOption('--objectives <file>', 'harmful objectives (HarmBench / AdvBench / JailbreakBench CSV, plain CSV or JSONL)')
    .requiredOption('-o, --out <file>', 'JSONL to write (Think-before-Attack records)')
    .option('--objectives-format <format>', `one of ${OBJECTIVE_FORMATS.join(', ')} (default: detected)`)
    .option('--attempts <n>', 'dialogues per objective (strategies rotate over dialogues)', '4')
    .option('--max-turns <n>', 'turns per dialogue (the paper: 5)', '5')
    .option('--limit <n>', 'use only the first n objectives')
    .option('--max-attempts <n>', 'generations per attacker turn before the dialogue is dropped', '4')
    .option('--no-instructions', 'do not prepend the thought-guided instructions (an attacker already trained on the format)')
    .option('--seed <n>', 'seed', '1')
    .option('-c, --config <file>', 'run config (arena section for arena:* specs)')
    .option('--tiny', 'the tiny configuration (its arena, for arena:* specs)')
    .option('--cache <dir>', 'arena cache directory')
    .action(async (options) => {
      hooks.setUpKernels();
      const config = options.tiny ? tinyRunConfig() : loadRunConfig(options.config);
      const seed = Number(options.seed);
      const context = { config, cacheDir: hooks.cacheDir(options.cache), served: hooks.served };
      let objectives = loadObjectives(options.objectives, options.objectivesFormat as ObjectiveFormat | undefined);
      if (options.limit) objectives = objectives.slice(0, Number(options.limit));
      const attacker = resolveChatModelSpec(options.attacker, context, seed);
      const target = resolveChatModelSpec(options.target, context, seed);
      const judge = resolveJudgeSpec(options.judge, context);
      const maxTurns = Number(options.maxTurns);
      // Our checkpoints speak as the user and take prefills natively; a chat server gets the flipped view and free generation.
      const agent = new ThoughtGuidedDataAttacker(attacker.model, {
        maxTurns,
        maxAttempts: Number(options.maxAttempts),
        sampling: DEFAULT_ATTACKER_SAMPLING,
        prefillMarker: attacker.inProcess,
        flipRoles: !attacker.inProcess,
        instructions: options.instructions !== false,
      });
      const progress = new Progress();
      const started = performance.now();
      const result = await generateStage1Data(agent, target.model, judge, {
        objectives,
        attempts: Number(options.attempts),
        maxTurns,
        seed,
        targetSampling: DEFAULT_TARGET_SAMPLING,
        onTurn: (turn) => progress.update('stage1-data', turn, maxTurns),
      });
      progress.stop();
      writeFileSync(options.out, result.records.map((r) => JSON.stringify(r)).join('\n') + (result.records.length ? '\n' : ''));
      const lines = [
        `stage1-data: ${result.successful} successful of ${result.attempted} dialogues (${result.formatFailures} dropped for format) in ${((performance.now() - started) / 1000).toFixed(1)} s → ${options.out}`,
        ...STRATEGY_NAMES.filter((s) => result.byStrategy[s]).map((s) => `  ${s.padEnd(20)} ${result.byStrategy[s].successful}/${result.byStrategy[s].attempted}`),
        `judged by ${judge.id}; attacker ${attacker.model.id}; target ${target.model.id}`,
      ];
      process.stdout.write(lines.join('\n') + '\n');
    });
}
