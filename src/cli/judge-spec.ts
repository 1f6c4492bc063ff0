/**
 * Judge specs: the strings `--judge` takes. In-process: `arena-guard`, `arena-oracle`,
 * `checkpoint:<dir>` (a guard checkpoint in the arena's format). Judge formats on a model (built
 * by run/judge-formats.ts, as a run config's judge `format` is): `prompt:<model>`,
 * `arena-guard:<model>`, `llama-guard-3:<model>`, `llama-guard-4:<model>` (and their `-text`
 * kinds), `harmbench:<model>`, `strongreject:<model>`, `rubric:<config.json>@<model>`, where
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
import type { RunConfig } from '../config/run-config.js';
import type { JudgeFormat } from '../core/backends.js';
import { checkpointJudgeBackend, judgeWithFormat, once, type JudgeBackend } from '../run/judge-formats.js';

/** Turns a model spec (server URL + model name, a checkpoint…) into a backend. Supplied by the caller. */
export interface ServedModels {
  completion(spec: string): CompletionModel;
  chat(spec: string): ChatModel;
  /** the model as a judge backend (GGUF files read the arena guard's format in-process); default: from chat and completion */
  judgeBackend?(spec: string): JudgeBackend;
}

export interface JudgeSpecContext {
  config: RunConfig;
  cacheDir: string;
  served?: ServedModels;
  /** the behaviour a conversation pursues, where the caller knows it (HarmBench grades against it) */
  behaviorOf?: (conversation: readonly Message[]) => { behavior: string; context?: string } | undefined;
}

type JudgeFactory = (argument: string, context: JudgeSpecContext) => Judge;

/** `checkpoint:<dir>` runs in-process (our engine); any other model spec goes to ServedModels. */
function backendOf(model: string, context: JudgeSpecContext, judgeSpec: string): JudgeBackend {
  if (model.startsWith('checkpoint:')) return checkpointJudgeBackend(model.slice('checkpoint:'.length));
  const served = context.served;
  if (!served)
    throw new ConfigError(
      `judge "${judgeSpec}" runs on a served model, and this build has no model specs wired in (use arena-guard, arena-oracle, checkpoint:<dir>, or a judge kind on checkpoint:<dir>; see docs/judges-and-data.md)`,
    );
  if (served.judgeBackend) return served.judgeBackend(model);
  return { id: model, chat: once(() => served.chat(model)), completion: once(() => served.completion(model)) };
}

/** A judge format (run/judge-formats.ts) on the model the spec's argument names. */
function onModel(format: JudgeFormat): JudgeFactory {
  return (model, context) => judgeWithFormat(format, backendOf(model, context, `${format}:${model}`), context.behaviorOf ? { behaviorOf: context.behaviorOf } : {});
}

/** kind → factory; extend with registerJudgeSpec. */
const FACTORIES = new Map<string, { describe: string; needsArgument: boolean; factory: JudgeFactory }>([
  [
    'arena-guard',
    {
      describe: "arena-guard: the arena's learned guard, in-process; arena-guard:<model>: the arena guard's format on a model (e.g. the guard checkpoint behind transformers serve)",
      needsArgument: false,
      factory: (model, c) => (model === '' ? loadGuard(buildArena(c.config.arena, { cacheDir: c.cacheDir })) : onModel('arena-guard')(model, c)),
    },
  ],
  ['arena-oracle', { describe: "the arena's exact oracle (for comparison)", needsArgument: false, factory: () => new OracleJudge() }],
  [
    'checkpoint',
    {
      describe: "checkpoint:<dir>: a guard checkpoint in the arena's prompt format, in-process",
      needsArgument: true,
      factory: (dir) => loadGuardCheckpoint(resolve(dir), `checkpoint:${basename(resolve(dir))}`),
    },
  ],
  ['prompt', { describe: 'prompt:<model>: the generic one-word safety prompt on a chat model', needsArgument: true, factory: onModel('prompt') }],
  ['llama-guard-3', { describe: 'llama-guard-3:<model>: Llama Guard 3 over a completion endpoint or checkpoint:<dir>', needsArgument: true, factory: onModel('llama-guard-3') }],
  ['llama-guard-4', { describe: 'llama-guard-4:<model>: Llama Guard 4 over a completion endpoint', needsArgument: true, factory: onModel('llama-guard-4') }],
  [
    'llama-guard-3-text',
    {
      describe: 'llama-guard-3-text:<model>: Llama Guard 3 reading the generated verdict when the server returns no log-probs (P = 1 or 0)',
      needsArgument: true,
      factory: onModel('llama-guard-3-text'),
    },
  ],
  ['llama-guard-4-text', { describe: 'llama-guard-4-text:<model>: the same for Llama Guard 4', needsArgument: true, factory: onModel('llama-guard-4-text') }],
  ['harmbench', { describe: 'harmbench:<model>: the HarmBench Llama-2-13B classifier over a completion endpoint', needsArgument: true, factory: onModel('harmbench') }],
  ['strongreject', { describe: 'strongreject:<model>: the StrongREJECT rubric graded by a chat model', needsArgument: true, factory: onModel('strongreject') }],
  [
    'rubric',
    {
      describe: 'rubric:<config.json>@<model>: a configurable rubric judge graded by a chat model',
      needsArgument: true,
      factory: (arg, c) => {
        const at = arg.lastIndexOf('@');
        if (at <= 0) throw new ConfigError(`judge "rubric:${arg}": expected rubric:<config.json>@<model>`);
        const model = arg.slice(at + 1);
        return judgeWithFormat('rubric', backendOf(model, c, `rubric:${arg}`), { rubric: arg.slice(0, at) });
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
