/**
 * The one place a judge format becomes a Judge. A format (core/backends.ts JUDGE_FORMATS) is a
 * prompt and a verdict reader; a JudgeBackend is the model it is put on: a server, one of our
 * checkpoints in-process, or a GGUF file. Both `mtsa run --config` (a judge role's `format`,
 * run/build-models.ts) and the CLI's judge specs (`llama-guard-3:<model>`, …, cli/judge-spec.ts)
 * build their judges here.
 */
import { basename, resolve } from 'node:path';
import { guardPrompt, loadGuardCheckpoint, loadPolicy } from '../arena/agents.js';
import type { JudgeFormat } from '../core/backends.js';
import { ConfigError } from '../core/errors.js';
import type { Message } from '../core/message.js';
import type { ChatModel, CompletionModel, Judge } from '../core/models.js';
import { loadCheckpoint } from '../engine/checkpoint/hf-checkpoint.js';
import { ArenaGuardJudge } from '../judges/arena-guard.js';
import { HarmBenchJudge } from '../judges/harmbench.js';
import { LlamaGuardJudge } from '../judges/llama-guard.js';
import { loadRubricJudgeConfig, RubricJudge } from '../judges/rubric-judge.js';
import { StrongRejectJudge } from '../judges/strongreject.js';
import { PromptJudge } from '../models/http/prompt-judge.js';
import { LocalCompletionModel } from '../models/local/local-completion-model.js';

/** A model a judge format can be put on. Models are made on first use (a format needs one seam). */
export interface JudgeBackend {
  /** the model's id: the generic judge's id, and part of every format judge's id */
  id: string;
  chat: () => ChatModel;
  completion: () => CompletionModel;
  /**
   * The arena guard's format run in-process on this model, reading the exact probabilities of the
   * whole answer words as the arena guard reads itself: our checkpoints and GGUF files have it;
   * over a server the format reads first-token log-probs or the generated text (ArenaGuardJudge).
   */
  arenaGuard?: (id: string) => Judge;
  /** the judge when no format is named (default: the generic prompt judge over chat) */
  defaultJudge?: () => Judge;
  /** first-token top log-probs the spec asks for (0 or absent: each format's default) */
  topLogprobs?: number;
}

export interface JudgeFormatOptions {
  /** format rubric: the rubric judge config (JSON) */
  rubric?: string;
  /** the behaviour a conversation pursues, where the caller knows it (HarmBench grades against it) */
  behaviorOf?: (conversation: readonly Message[]) => { behavior: string; context?: string } | undefined;
}

/** A model made once, on first use. */
export function once<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

/** The judge a format puts on a backend; no format: the backend's default judge. */
export function judgeWithFormat(format: JudgeFormat | undefined, backend: JudgeBackend, options: JudgeFormatOptions = {}): Judge {
  const k = backend.topLogprobs ? { topLogprobs: backend.topLogprobs } : {};
  switch (format) {
    case undefined:
      return backend.defaultJudge?.() ?? new PromptJudge(backend.chat(), { id: backend.id, ...k });
    case 'prompt':
      return new PromptJudge(backend.chat(), { id: backend.id, ...k });
    case 'arena-guard': {
      const id = `arena-guard:${backend.id}`;
      return backend.arenaGuard ? backend.arenaGuard(id) : new ArenaGuardJudge(backend.chat(), { id, formatPrompt: guardPrompt, ...k });
    }
    case 'llama-guard-3':
    case 'llama-guard-4':
      return new LlamaGuardJudge({ completion: backend.completion() }, { version: format === 'llama-guard-3' ? 3 : 4, ...k });
    case 'llama-guard-3-text':
    case 'llama-guard-4-text':
      return new LlamaGuardJudge({ completion: backend.completion() }, { version: format === 'llama-guard-3-text' ? 3 : 4, requireLogprobs: false, ...k });
    case 'harmbench':
      return new HarmBenchJudge(backend.completion(), { ...(options.behaviorOf ? { behaviorOf: options.behaviorOf } : {}), ...k });
    case 'strongreject':
      return new StrongRejectJudge(backend.chat());
    case 'rubric':
      if (!options.rubric) throw new ConfigError(`judge format rubric on ${backend.id} needs its config file (rubric: <config.json>)`);
      return new RubricJudge(backend.chat(), loadRubricJudgeConfig(options.rubric));
  }
}

/** One of our checkpoints as a judge backend, in-process: the engine's chat policy, its completions, the arena guard's reader. */
export function checkpointJudgeBackend(dir: string, id = `checkpoint:${basename(resolve(dir))}`, options: { defaultJudge?: (chat: ChatModel) => Judge } = {}): JudgeBackend {
  const chat = once(() => loadPolicy(resolve(dir), id, 0));
  return {
    id,
    chat,
    completion: once(() => {
      const { model, tokenizer } = loadCheckpoint(resolve(dir));
      return new LocalCompletionModel(id, model, tokenizer);
    }),
    arenaGuard: (judgeId) => loadGuardCheckpoint(resolve(dir), judgeId),
    ...(options.defaultJudge ? { defaultJudge: () => options.defaultJudge!(chat()) } : {}),
  };
}
