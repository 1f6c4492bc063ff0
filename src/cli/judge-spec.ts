/**
 * Judge specs: the strings `--judge` takes. In-process: `arena-guard`, `arena-oracle`,
 * `checkpoint:<dir>` (a guard checkpoint in the arena's format). Judge formats on a model:
 * `llama-guard-3:<model>`, `llama-guard-4:<model>`, `harmbench:<model>` (raw prompts through a
 * CompletionModel), `strongreject:<model>`, `rubric:<config.json>@<model>` (a ChatModel), where
 * <model> is `checkpoint:<dir>` (our engine, in-process) or a served model, which `ServedModels`
 * (cli/served-models.ts: `http://…/v1#model`, `gguf:<file>`, `spec:<file.yaml>`) turns into a
 * backend through the per-role model specs.
 */
import { basename, resolve } from 'node:path';
import { ConfigError } from '../core/errors.js';
import type { Message } from '../core/message.js';
import type { ChatModel, CompletionModel, Judge } from '../core/models.js';
import { loadGuard, loadGuardCheckpoint, loadPolicy, OracleJudge } from '../arena/agents.js';
import { buildArena } from '../arena/build.js';
import { loadCheckpoint } from '../engine/checkpoint/hf-checkpoint.js';
import { LocalCompletionModel } from '../models/local/local-completion-model.js';
import type { RunConfig } from '../config/run-config.js';
import { HarmBenchJudge } from '../judges/harmbench.js';
import { LlamaGuardJudge } from '../judges/llama-guard.js';
import { loadRubricJudgeConfig, RubricJudge } from '../judges/rubric-judge.js';
import { StrongRejectJudge } from '../judges/strongreject.js';

/** Turns a model spec (server URL + model name, a checkpoint…) into a backend. Supplied by the caller. */
export interface ServedModels {
  completion(spec: string): CompletionModel;
  chat(spec: string): ChatModel;
}

export interface JudgeSpecContext {
  config: RunConfig;
  cacheDir: string;
  served?: ServedModels;
  /** the behaviour a conversation pursues, where the caller knows it (HarmBench grades against it) */
  behaviorOf?: (conversation: readonly Message[]) => { behavior: string; context?: string } | undefined;
}

type JudgeFactory = (argument: string, context: JudgeSpecContext) => Judge;

function served(context: JudgeSpecContext, spec: string): ServedModels {
  if (!context.served)
    throw new ConfigError(
      `judge "${spec}" runs on a served model, and this build has no model specs wired in (use arena-guard, arena-oracle, checkpoint:<dir>, or a judge kind on checkpoint:<dir>; see docs/judges-and-data.md)`,
    );
  return context.served;
}

/** `checkpoint:<dir>` runs in-process (our engine); any other model spec goes to ServedModels. */
function completionOf(model: string, context: JudgeSpecContext, judgeSpec: string): CompletionModel {
  if (model.startsWith('checkpoint:')) {
    const dir = resolve(model.slice('checkpoint:'.length));
    const { model: llama, tokenizer } = loadCheckpoint(dir);
    return new LocalCompletionModel(`checkpoint:${basename(dir)}`, llama, tokenizer);
  }
  return served(context, judgeSpec).completion(model);
}

function chatOf(model: string, context: JudgeSpecContext, judgeSpec: string): ChatModel {
  if (model.startsWith('checkpoint:')) {
    const dir = resolve(model.slice('checkpoint:'.length));
    return loadPolicy(dir, `checkpoint:${basename(dir)}`, 0);
  }
  return served(context, judgeSpec).chat(model);
}

/** kind → factory; extend with registerJudgeSpec. */
const FACTORIES = new Map<string, { describe: string; needsArgument: boolean; factory: JudgeFactory }>([
  ['arena-guard', { describe: "the arena's learned guard, in-process", needsArgument: false, factory: (_, c) => loadGuard(buildArena(c.config.arena, { cacheDir: c.cacheDir })) }],
  ['arena-oracle', { describe: "the arena's exact oracle (for comparison)", needsArgument: false, factory: () => new OracleJudge() }],
  [
    'checkpoint',
    {
      describe: "checkpoint:<dir>: a guard checkpoint in the arena's prompt format, in-process",
      needsArgument: true,
      factory: (dir) => loadGuardCheckpoint(resolve(dir), `checkpoint:${basename(resolve(dir))}`),
    },
  ],
  [
    'llama-guard-3',
    {
      describe: 'llama-guard-3:<model>: Llama Guard 3 over a completion endpoint or checkpoint:<dir>',
      needsArgument: true,
      factory: (m, c) => new LlamaGuardJudge({ completion: completionOf(m, c, `llama-guard-3:${m}`) }, { version: 3 }),
    },
  ],
  [
    'llama-guard-4',
    {
      describe: 'llama-guard-4:<model>: Llama Guard 4 over a completion endpoint',
      needsArgument: true,
      factory: (m, c) => new LlamaGuardJudge({ completion: completionOf(m, c, `llama-guard-4:${m}`) }, { version: 4 }),
    },
  ],
  [
    'llama-guard-3-text',
    {
      describe: 'llama-guard-3-text:<model>: Llama Guard 3 reading the generated verdict when the server returns no log-probs (P = 1 or 0)',
      needsArgument: true,
      factory: (m, c) => new LlamaGuardJudge({ completion: completionOf(m, c, `llama-guard-3-text:${m}`) }, { version: 3, requireLogprobs: false }),
    },
  ],
  [
    'llama-guard-4-text',
    {
      describe: 'llama-guard-4-text:<model>: the same for Llama Guard 4',
      needsArgument: true,
      factory: (m, c) => new LlamaGuardJudge({ completion: completionOf(m, c, `llama-guard-4-text:${m}`) }, { version: 4, requireLogprobs: false }),
    },
  ],
  [
    'harmbench',
    {
      describe: 'harmbench:<model>: the HarmBench Llama-2-13B classifier over a completion endpoint',
      needsArgument: true,
      factory: (m, c) => new HarmBenchJudge(completionOf(m, c, `harmbench:${m}`), c.behaviorOf ? { behaviorOf: c.behaviorOf } : {}),
    },
  ],
  [
    'strongreject',
    { describe: 'strongreject:<model>: the StrongREJECT rubric graded by a chat model', needsArgument: true, factory: (m, c) => new StrongRejectJudge(chatOf(m, c, `strongreject:${m}`)) },
  ],
  [
    'rubric',
    {
      describe: 'rubric:<config.json>@<model>: a configurable rubric judge graded by a chat model',
      needsArgument: true,
      factory: (arg, c) => {
        const at = arg.lastIndexOf('@');
        if (at <= 0) throw new ConfigError(`judge "rubric:${arg}": expected rubric:<config.json>@<model>`);
        const config = loadRubricJudgeConfig(arg.slice(0, at));
        return new RubricJudge(chatOf(arg.slice(at + 1), c, `rubric:${arg}`), config);
      },
    },
  ],
]);

/** Adds (or replaces) a judge kind: the extension point for new judges and backends. */
export function registerJudgeSpec(kind: string, describe: string, factory: JudgeFactory, needsArgument = true): void {
  FACTORIES.set(kind, { describe, needsArgument, factory });
}

export function judgeSpecHelp(): string {
  return [...FACTORIES.values()].map((f) => f.describe).join('; ');
}

export function resolveJudgeSpec(spec: string, context: JudgeSpecContext): Judge {
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const argument = colon < 0 ? '' : spec.slice(colon + 1);
  const entry = FACTORIES.get(kind);
  if (!entry) throw new ConfigError(`unknown judge "${spec}"; known: ${[...FACTORIES.keys()].join(', ')}`);
  if (entry.needsArgument && argument === '') throw new ConfigError(`judge "${spec}" needs an argument: ${entry.describe}`);
  return entry.factory(argument, context);
}

/**
 * Chat model specs for commands that need attackers and targets: `arena:target`, `arena:attacker`
 * (the arena's base models), `checkpoint:<dir>` (one of our checkpoints), all in-process; anything
 * else goes to ServedModels.chat. `inProcess` tells callers whether prefill and the user-speaking
 * attacker are native (ours) or need the chat-server conventions (served).
 */
export function resolveChatModelSpec(spec: string, context: JudgeSpecContext, seed: number): { model: ChatModel; inProcess: boolean } {
  if (spec === 'arena:target' || spec === 'arena:attacker') {
    const build = buildArena(context.config.arena, { cacheDir: context.cacheDir });
    return { model: loadPolicy(build.checkpoints[spec === 'arena:target' ? 'target' : 'attacker'], spec, seed), inProcess: true };
  }
  if (spec.startsWith('checkpoint:')) {
    const dir = resolve(spec.slice('checkpoint:'.length));
    return { model: loadPolicy(dir, `checkpoint:${basename(dir)}`, seed), inProcess: true };
  }
  if (!context.served) throw new ConfigError(`model "${spec}": served models are not wired into this build (use arena:target, arena:attacker or checkpoint:<dir>)`);
  return { model: context.served.chat(spec), inProcess: false };
}
