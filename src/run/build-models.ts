/**
 * Model specs (config/model-spec.ts) → the seams each role needs. One factory per `kind` in
 * FACTORIES: adding a kind (say `llama-cpp` or `torch`) is one schema entry and one entry here.
 * The judge role's `format` is turned into a Judge by run/judge-formats.ts (shared with the CLI's
 * judge specs) over the JudgeBackend each kind provides (judgeBackendOf).
 * API keys are read from the environment variable the spec names, here and nowhere else; they
 * never enter a config, a log or a run directory.
 */
import type { ChatModel, Embedder, Judge, TrainablePolicy } from '../core/models.js';
import { ConfigError } from '../core/errors.js';
import { guardPrompt, loadEmbedder, loadGuard, loadPolicy, ScriptedAttacker } from '../arena/agents.js';
import { fromCache, type ArenaBuild } from '../arena/build.js';
import type { ArenaConfig } from '../arena/config.js';
import { ThoughtGuidedPolicy } from '../arena/scripted.js';
import type { AttackerAgent } from '../attacks/attacker.js';
import type { ModelKind, ModelRole, ModelSpec } from '../config/model-spec.js';
import { loadCheckpoint } from '../engine/checkpoint/hf-checkpoint.js';
import { OpenAiCompatibleModel } from '../models/http/openai-compatible.js';
import { PromptJudge } from '../models/http/prompt-judge.js';
import { checkpointJudgeBackend, judgeWithFormat, type JudgeBackend } from './judge-formats.js';
import { TrafficController, type Clock } from '../models/http/traffic.js';
import { MeanPoolEmbedder } from '../models/local/local-scorers.js';
import { LazyLlamaCppModel } from '../models/llamacpp/lazy.js';
import { basename } from 'node:path';

export interface BuildModelContext {
  role: ModelRole;
  /** the arena build (built on first use: only `arena` specs need it) */
  arena: () => ArenaBuild;
  arenaConfig: ArenaConfig;
  seed: number;
  env: Readonly<Record<string, string | undefined>>;
  /** where the spec came from, for messages (e.g. "attack.yaml: models.target") */
  source: string;
  clock?: Clock;
  fetch?: typeof fetch;
}

/** What a spec provides; a role takes the part it needs. */
export interface BuiltModel {
  id: string;
  chat?: ChatModel;
  /** in-process models can be trained */
  policy?: TrainablePolicy;
  judge?: Judge;
  embedder?: Embedder;
  /** a ready red team (the arena's scripted thought-guided attacker); others attack through LlmAttacker over `chat` */
  attacker?: AttackerAgent;
  /** traffic statistics of a server-backed model */
  traffic?: TrafficController;
}

type Factory<K extends ModelKind> = (spec: Extract<ModelSpec, { kind: K }>, context: BuildModelContext) => BuiltModel;

function arenaModel(_spec: Extract<ModelSpec, { kind: 'arena' }>, context: BuildModelContext): BuiltModel {
  const arena = context.arena();
  switch (context.role) {
    case 'judge':
      return { id: 'arena:guard', judge: fromCache(arena, 'guard', () => loadGuard(arena)) };
    case 'embedder':
      return { id: 'arena:embedder', embedder: fromCache(arena, 'embedder', () => loadEmbedder(arena)) };
    case 'attacker': {
      // The arena's base attacker is a language model still to be trained (mtsa run's Stage 1
      // starts from it); as a ready red team the arena offers its scripted thought-guided attacker.
      const policy = fromCache(arena, 'attacker', () => loadPolicy(arena.checkpoints.attacker, 'arena:attacker', context.seed));
      const scripted = new ScriptedAttacker('arena:thought-guided', () => new ThoughtGuidedPolicy(context.arenaConfig.scriptedAttacker));
      return { id: policy.id, chat: policy, policy, attacker: scripted };
    }
    case 'target': {
      const policy = fromCache(arena, 'target', () => loadPolicy(arena.checkpoints.target, 'arena:target', context.seed));
      return { id: policy.id, chat: policy, policy };
    }
  }
}

/** The server a spec names, with its traffic controller; the key is read from the variable the spec names. */
function openServer(spec: Extract<ModelSpec, { kind: 'openai-compatible' }>, context: BuildModelContext): { id: string; model: OpenAiCompatibleModel; traffic: TrafficController } {
  let apiKey: string | undefined;
  if (spec.apiKeyEnv) {
    apiKey = context.env[spec.apiKeyEnv];
    if (!apiKey) throw new ConfigError(`${context.source}: apiKeyEnv names the environment variable ${spec.apiKeyEnv}, which is not set; export ${spec.apiKeyEnv}=<your key> before running`);
  }
  const id = `${context.role}:${spec.model}`;
  const traffic = new TrafficController(spec.traffic, context.role, context.clock);
  const model = new OpenAiCompatibleModel({
    id,
    baseUrl: spec.baseUrl,
    model: spec.model,
    flavour: spec.flavour,
    template: spec.template,
    apiKey,
    apiKeyEnv: spec.apiKeyEnv,
    traffic,
    ...(context.fetch ? { fetch: context.fetch } : {}),
  });
  return { id, model, traffic };
}

function serverJudgeBackend(id: string, model: OpenAiCompatibleModel, spec: { topLogprobs: number }): JudgeBackend {
  return { id, chat: () => model, completion: () => model, topLogprobs: spec.topLogprobs };
}

function serverModel(spec: Extract<ModelSpec, { kind: 'openai-compatible' }>, context: BuildModelContext): BuiltModel {
  const { id, model, traffic } = openServer(spec, context);
  return { id, chat: model, embedder: model, judge: judgeWithFormat(spec.format, serverJudgeBackend(id, model, spec), formatOptions(spec)), traffic };
}

function checkpointModel(spec: Extract<ModelSpec, { kind: 'checkpoint' }>, context: BuildModelContext): BuiltModel {
  const id = `${context.role}:checkpoint`;
  if (context.role === 'embedder') {
    const { model, tokenizer } = loadCheckpoint(spec.path);
    return { id, embedder: new MeanPoolEmbedder(id, model, tokenizer) };
  }
  if (context.role === 'judge') return { id, judge: judgeWithFormat(spec.format, checkpointJudgeBackend(spec.path, id), formatOptions(spec)) };
  const policy = loadPolicy(spec.path, id, context.seed);
  return { id, chat: policy, policy, judge: new PromptJudge(policy, { id }) };
}

/** A GGUF file run in-process by llama.cpp: chat for the attacker or target, verdict-token probabilities as a judge. */
function llamaCppModel(spec: Extract<ModelSpec, { kind: 'llama-cpp' }>, context: BuildModelContext): BuiltModel {
  const model = lazyLlamaCpp(spec);
  const id = model.id;
  if (context.role === 'judge') return { id, judge: judgeWithFormat(spec.format, llamaCppJudgeBackend(model), formatOptions(spec)) };
  if (context.role === 'embedder') throw new ConfigError(`${context.source}: a llama-cpp model cannot embed here; use kind openai-compatible (/v1/embeddings), checkpoint or arena`);
  return { id, chat: model };
}

/** The GGUF model of a spec (id: the spec's, else the file's name); the judge fields are ours, not llama.cpp's (its loader reads a strict spec). */
function lazyLlamaCpp(spec: Extract<ModelSpec, { kind: 'llama-cpp' }>): LazyLlamaCppModel {
  const { format: _format, rubric: _rubric, ...model } = spec;
  return new LazyLlamaCppModel(spec.id ?? `llama-cpp:${basename(spec.path)}`, model);
}

/** A GGUF model as a judge backend: chat and completions by llama.cpp, verdict-token probabilities in-process. */
function llamaCppJudgeBackend(model: LazyLlamaCppModel): JudgeBackend {
  return { id: model.id, chat: () => model, completion: () => model, arenaGuard: (id) => model.judge(guardPrompt, id), defaultJudge: () => model.judge() };
}

function formatOptions(spec: { rubric?: string }): { rubric?: string } {
  return spec.rubric ? { rubric: spec.rubric } : {};
}

/**
 * The judge backend a model spec names (the CLI's judge specs put a format on it): a server,
 * a checkpoint in-process, or a GGUF file; the arena's own guard is not a backend for formats.
 */
export function judgeBackendOf(spec: ModelSpec, context: BuildModelContext): JudgeBackend {
  switch (spec.kind) {
    case 'arena':
      throw new ConfigError(`${context.source}: a judge format needs a model (openai-compatible, checkpoint or llama-cpp); the arena's guard is the judge spec arena-guard`);
    case 'checkpoint':
      return checkpointJudgeBackend(spec.path);
    case 'llama-cpp':
      return llamaCppJudgeBackend(lazyLlamaCpp(spec));
    case 'openai-compatible': {
      const { id, model } = openServer(spec, { ...context, role: 'judge' });
      return serverJudgeBackend(id, model, spec);
    }
  }
}

export const FACTORIES: { [K in ModelKind]: Factory<K> } = {
  arena: arenaModel,
  'openai-compatible': serverModel,
  checkpoint: checkpointModel,
  'llama-cpp': llamaCppModel,
};

export function buildModel(spec: ModelSpec, context: BuildModelContext): BuiltModel {
  return (FACTORIES[spec.kind] as Factory<typeof spec.kind>)(spec as never, context);
}

/** The part of a built model a role needs, or a ConfigError that says which kinds provide it. */
export function need<K extends 'chat' | 'policy' | 'judge' | 'embedder'>(built: BuiltModel, part: K, context: Pick<BuildModelContext, 'source'>, why: string): NonNullable<BuiltModel[K]> {
  const value = built[part];
  if (!value) throw new ConfigError(`${context.source}: ${built.id} cannot serve here: ${why}`);
  return value as NonNullable<BuiltModel[K]>;
}
