/**
 * Builds (or reuses) everything the arena needs: world, corpora, tokenizer and the five models,
 * each cached under a content hash of (world version, the config that shapes it, seed), so that a
 * second run starts at once and changing one model's size rebuilds only that model.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic-write.js';
import { acquireLock, acquireLockWaiting, removeStaleTemporaries, type DirectoryLock } from '../core/dir-lock.js';
import { ConfigError, MtsaError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { WorkerPool } from '../core/worker-pool.js';
import { kernels, type KernelName } from '../engine/kernels/index.js';
import { addHfTokenizerFiles, readTokenizer, saveCheckpoint } from '../engine/checkpoint/hf-checkpoint.js';
import type { ScoredSequence } from '../engine/log-probs.js';
import { LlamaModel, defaultLlamaConfig } from '../engine/nn/llama.js';
import { ByteLevelBpeTokenizer } from '../engine/tokenizer/byte-level-bpe.js';
import { trainLanguageModel } from '../engine/train.js';
import { ChatTemplate, CHAT_TEMPLATE_ID, HF_CHAT_TEMPLATE, SPECIAL_TOKENS } from '../models/chat-template.js';
import type { ArenaConfig, ArenaModelRole } from './config.js';
import { attackerBaseCorpus, embedderCorpus, guardCorpus, helpfulnessCorpus, targetCorpus, thinkBeforeAttackCorpus, type ChatExample, type ThinkBeforeAttackRecord } from './corpora.js';
import { buildWorld, WORLD_VERSION, type World } from './world.js';

/**
 * Bump when training code changes in a way that changes model files (2: one OpenBLAS thread,
 * docs/decisions/0013-workers-and-one-blas-thread.md; 3: our own kernels, which round differently,
 * docs/decisions/0015-own-kernels.md).
 */
const BUILD_VERSION = 3;

export interface ArenaCorpora {
  target: ChatExample[];
  attacker: ChatExample[];
  thinkBeforeAttack: ThinkBeforeAttackRecord[];
  guard: ChatExample[];
  helpfulness: ChatExample[];
  embedder: string[];
}

export type BuildEvent =
  | { type: 'phase-start'; phase: string; total: number; cached: boolean }
  | { type: 'phase-progress'; phase: string; done: number; total: number; loss?: number }
  | { type: 'phase-end'; phase: string; seconds: number; cached: boolean; detail?: string };

export interface ArenaBuild {
  world: World;
  corpora: ArenaCorpora;
  tokenizer: ByteLevelBpeTokenizer;
  /** checkpoint directory of each model */
  checkpoints: Record<ArenaModelRole, string>;
  /** cache directory of this arena (corpora JSONL, manifest) */
  dir: string;
  /** seconds spent building (0 when everything came from the cache) */
  buildSeconds: number;
}

export function hashOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

export function generateCorpora(world: World, config: ArenaConfig, stream = 'corpora'): ArenaCorpora {
  const rng = new Rng(config.seed).fork(stream);
  const base = { behaviour: config.behaviour, guided: config.scriptedAttacker, maxTurns: config.maxTurns };
  const c = config.corpora;
  return {
    target: targetCorpus(world, { ...base, dialogues: c.targetDialogues, benignSingles: c.benignSingles }, rng.fork('target-corpus')),
    attacker: attackerBaseCorpus(world, { ...base, dialogues: c.attackerDialogues }, rng.fork('attacker-corpus')),
    thinkBeforeAttack: thinkBeforeAttackCorpus(world, { ...base, attempts: c.thinkBeforeAttackAttempts, keep: c.keepSuccessfulOnly ? 'success' : 'all' }, rng.fork('tba-corpus')),
    guard: guardCorpus(world, { ...base, dialogues: 0, examples: c.guardExamples, labelNoise: c.labelNoise }, rng.fork('guard-corpus')),
    helpfulness: helpfulnessCorpus(world, { ...base, dialogues: 0, examples: c.helpfulnessExamples }, rng.fork('helpfulness-corpus')),
    embedder: embedderCorpus(world, { ...base, dialogues: 0, texts: c.embedderTexts }, rng.fork('embedder-corpus')),
  };
}

/** Tokens and loss mask of a chat example (loss on the trained roles' content and <|end|>). */
export function toScoredSequence(template: ChatTemplate, example: ChatExample): ScoredSequence {
  const { ids, spans } = template.render(example.messages);
  const mask = new Array<number>(ids.length).fill(0);
  const trained = spans.filter((s) => (example.trainRoles as string[]).includes(s.role));
  for (const span of trained) for (let t = span.start; t < span.end; t++) mask[t] = 1;
  return { ids, mask };
}

function tokenizerCorpus(corpora: ArenaCorpora): string[] {
  const texts: string[] = [];
  for (const list of [corpora.target, corpora.attacker, corpora.guard, corpora.helpfulness]) for (const e of list) for (const m of e.messages) texts.push(m.content);
  for (const r of corpora.thinkBeforeAttack) for (const m of r.red_conv) texts.push(m.content);
  texts.push(...corpora.embedder);
  return texts;
}

/** Sequences a role trains on (the attacker base's dialogues also carry the system prompt format). */
function trainingSequences(role: ArenaModelRole, corpora: ArenaCorpora, template: ChatTemplate, tokenizer: ByteLevelBpeTokenizer): ScoredSequence[] {
  switch (role) {
    case 'target':
      return corpora.target.map((e) => toScoredSequence(template, e));
    case 'attacker':
      return corpora.attacker.map((e) => toScoredSequence(template, e));
    case 'guard':
      return corpora.guard.map((e) => toScoredSequence(template, e));
    case 'helpfulness':
      return corpora.helpfulness.map((e) => toScoredSequence(template, e));
    case 'embedder':
      return corpora.embedder.map((text) => {
        const ids = tokenizer.encode(text, { allowSpecial: false });
        return { ids, mask: ids.map(() => 1) };
      });
  }
}

const ROLES: ArenaModelRole[] = ['target', 'attacker', 'guard', 'helpfulness', 'embedder'];

export interface BuildOptions {
  cacheDir: string;
  onEvent?: (event: BuildEvent) => void;
}

/** The corpus settings each model's training data depends on (its cache key includes only these). */
function corpusKeyOf(role: ArenaModelRole, config: ArenaConfig): unknown {
  const c = config.corpora;
  switch (role) {
    case 'target':
      return { dialogues: c.targetDialogues, benignSingles: c.benignSingles };
    case 'attacker':
      return { dialogues: c.attackerDialogues };
    case 'guard':
      return { examples: c.guardExamples, labelNoise: c.labelNoise };
    case 'helpfulness':
      return { examples: c.helpfulnessExamples };
    case 'embedder':
      return { texts: c.embedderTexts };
  }
}

/** The tokenizer's own corpus: a fixed-size sample, so corpus sizes do not change the vocabulary. */
export function tokenizerSample(world: World, config: ArenaConfig): ArenaCorpora {
  const sized = {
    ...config,
    corpora: {
      ...config.corpora,
      targetDialogues: 3000,
      benignSingles: 2000,
      attackerDialogues: 1000,
      thinkBeforeAttackAttempts: 1000,
      guardExamples: 1000,
      helpfulnessExamples: 1000,
      embedderTexts: 1000,
    },
  };
  return generateCorpora(world, sized, 'tokenizer-sample');
}

type Prepared = ReturnType<typeof prepareLocked>;

/**
 * Opens the cache entry of `config`: a complete entry is only read (the cache may be read-only,
 * shared by several runs); anything to build is built under the entry's lock, so two runs never
 * race on a rename. `release` must be called when the missing models are saved.
 */
function openEntry(config: ArenaConfig, options: BuildOptions): { prepared: Prepared; release: () => void } {
  const emit = options.onEvent ?? (() => {});
  const world = buildWorld({ seed: config.seed, testFraction: config.testFraction });
  const worldKey = hashOf({
    WORLD_VERSION,
    BUILD_VERSION,
    seed: config.seed,
    testFraction: config.testFraction,
    maxTurns: config.maxTurns,
    behaviour: config.behaviour,
    scriptedAttacker: config.scriptedAttacker,
    vocabSize: config.vocabSize,
  });
  const dir = join(options.cacheDir, `arena-v${WORLD_VERSION}-${worldKey}`);
  const complete = entryComplete(dir, config);
  if (complete) removeLeftovers(dir);
  const lock = complete ? null : lockEntry(dir, emit);
  try {
    return { prepared: prepareLocked(config, world, dir, emit), release: () => lock?.release() };
  } catch (error) {
    lock?.release();
    throw error;
  }
}

function modelDir(dir: string, role: ArenaModelRole, config: ArenaConfig): string {
  return join(dir, `${role}-${hashOf({ role, size: config.models[role], corpus: corpusKeyOf(role, config) })}`);
}

function entryComplete(dir: string, config: ArenaConfig): boolean {
  return (
    existsSync(join(dir, 'tokenizer.json')) &&
    existsSync(join(dir, `corpora-${hashOf(config.corpora)}`, 'think-before-attack.jsonl')) &&
    ROLES.every((role) => existsSync(join(modelDir(dir, role, config), 'model.safetensors')))
  );
}

const LEFTOVER = /^\..+\.(tmp|old)-\d+$/;

/** Best effort, for a complete entry: what a killed build left behind, if the entry is writable and free. */
function removeLeftovers(dir: string): void {
  if (!readdirSync(dir).some((name) => LEFTOVER.test(name))) return;
  try {
    const lock = acquireLock(join(dir, '.build.lock'), 'mtsa arena cleanup', `arena cache entry ${dir}`);
    try {
      removeStaleTemporaries(dir);
    } finally {
      lock.release();
    }
  } catch {
    // read-only or busy cache: the leftovers are harmless and go with the next build
  }
}

function lockEntry(dir: string, emit: (event: BuildEvent) => void): DirectoryLock {
  mkdirSync(dir, { recursive: true });
  const lock = acquireLockWaiting(join(dir, '.build.lock'), 'mtsa arena build', `arena cache entry ${dir}`, {
    onWait: (owner) =>
      emit({
        type: 'phase-end',
        phase: 'lock',
        seconds: 0,
        cached: false,
        detail: `waiting for ${owner ? `process ${owner.pid} on ${owner.host}` : 'another process'}, which is building this cache entry`,
      }),
  });
  // What a killed build left behind (weights directories half written under a temporary name).
  removeStaleTemporaries(dir);
  for (const name of readdirSync(dir)) if (name.startsWith('corpora-')) removeStaleTemporaries(join(dir, name));
  return lock;
}

/** A cache file that cannot be used: the message names the directory to delete for a rebuild. */
export function cacheEntryError(path: string, error: unknown): ConfigError {
  const message = error instanceof Error ? error.message : String(error);
  return new ConfigError(`arena cache entry ${path} is unusable: ${message}. Delete ${path} and run again to rebuild it (or choose another --cache)`, { cause: error });
}

/** World, corpora and tokenizer (cached), and where each model's checkpoint lives (the entry is locked or complete). */
function prepareLocked(config: ArenaConfig, world: World, dir: string, emit: (event: BuildEvent) => void) {
  let t0 = performance.now();
  emit({ type: 'phase-start', phase: 'corpora', total: 1, cached: false });
  const corpora = generateCorpora(world, config);
  writeCorpora(join(dir, `corpora-${hashOf(config.corpora)}`), corpora);
  emit({
    type: 'phase-end',
    phase: 'corpora',
    seconds: (performance.now() - t0) / 1000,
    cached: false,
    detail: `${corpora.target.length} target examples, ${corpora.thinkBeforeAttack.length} Think-before-Attack dialogues`,
  });

  const tokenizerPath = join(dir, 'tokenizer.json');
  let tokenizer: ByteLevelBpeTokenizer;
  t0 = performance.now();
  if (existsSync(tokenizerPath)) {
    try {
      tokenizer = readTokenizer(tokenizerPath);
    } catch (error) {
      if (error instanceof MtsaError) throw cacheEntryError(dir, error);
      throw error;
    }
    emit({ type: 'phase-end', phase: 'tokenizer', seconds: 0, cached: true });
  } else {
    emit({ type: 'phase-start', phase: 'tokenizer', total: 1, cached: false });
    tokenizer = ByteLevelBpeTokenizer.train(tokenizerCorpus(tokenizerSample(world, config)), { vocabSize: config.vocabSize, specialTokens: [...SPECIAL_TOKENS], minFrequency: 2 });
    writeFileAtomic(tokenizerPath, JSON.stringify(tokenizer.toJSON()));
    emit({ type: 'phase-end', phase: 'tokenizer', seconds: (performance.now() - t0) / 1000, cached: false, detail: `${tokenizer.vocabSize} tokens` });
  }
  const checkpoints = {} as Record<ArenaModelRole, string>;
  for (const role of ROLES) checkpoints[role] = modelDir(dir, role, config);
  const missing = ROLES.filter((role) => {
    const cached = existsSync(join(checkpoints[role], 'model.safetensors'));
    if (cached) {
      // Models cached before checkpoints carried a chat template get it now (small files, additive).
      if (!existsSync(join(checkpoints[role], 'tokenizer_config.json'))) {
        try {
          addHfTokenizerFiles(checkpoints[role], HF_CHAT_TEMPLATE);
        } catch {
          // a read-only shared cache: the model still loads; serving it needs a writable copy
        }
      }
      emit({ type: 'phase-end', phase: role, seconds: 0, cached: true });
    }
    return !cached;
  });
  return { world, corpora, tokenizer, checkpoints, dir, missing };
}

/** Everything one arena model's training needs; plain data, so it can be sent to a worker thread. */
export interface ArenaModelJob {
  role: ArenaModelRole;
  size: ArenaConfig['models'][ArenaModelRole];
  seed: number;
  tokenizer: ReturnType<ByteLevelBpeTokenizer['toJSON']>;
  sequences: ScoredSequence[];
  checkpoint: string;
}

function modelJob(role: ArenaModelRole, config: ArenaConfig, prepared: Prepared): ArenaModelJob {
  const size = config.models[role];
  const template = new ChatTemplate(prepared.tokenizer);
  const sequences = trainingSequences(role, prepared.corpora, template, prepared.tokenizer).filter((s) => s.ids.length <= size.maxPositions);
  return { role, size, seed: config.seed, tokenizer: prepared.tokenizer.toJSON(), sequences, checkpoint: prepared.checkpoints[role] };
}

/** Trains one arena model and saves its checkpoint (in this thread or in a worker). */
export function trainArenaModel(job: ArenaModelJob, emit: (event: BuildEvent) => void = () => {}): void {
  const t0 = performance.now();
  const { role, size, seed } = job;
  const tokenizer = ByteLevelBpeTokenizer.fromJSON(job.tokenizer);
  const template = new ChatTemplate(tokenizer);
  const model = new LlamaModel(
    defaultLlamaConfig({
      vocabSize: tokenizer.vocabSize,
      hiddenSize: size.hiddenSize,
      numLayers: size.numLayers,
      numHeads: size.numHeads,
      numKvHeads: size.numKvHeads,
      intermediateSize: size.intermediateSize,
      maxPositions: size.maxPositions,
    }),
    new Rng(seed).fork(`init-${role}`),
  );
  let total = 0;
  const result = trainLanguageModel(model, job.sequences, {
    epochs: size.epochs,
    batchSize: size.batchSize,
    lr: size.lr,
    warmupRatio: 0.05,
    weightDecay: 0.01,
    seed: new Rng(seed).fork(`train-${role}`).nextUint32(),
    padId: template.padId,
    onStep: (s) => {
      if (total === 0) {
        total = s.totalSteps;
        emit({ type: 'phase-start', phase: role, total, cached: false });
      }
      emit({ type: 'phase-progress', phase: role, done: s.step, total: s.totalSteps, loss: s.loss });
    },
  });
  saveCheckpoint(job.checkpoint, {
    model,
    tokenizer,
    chat: HF_CHAT_TEMPLATE,
    metadata: {
      chatTemplate: CHAT_TEMPLATE_ID,
      arenaRole: role,
      worldVersion: WORLD_VERSION,
      seed,
      training: { ...size, steps: result.steps, firstLoss: result.firstLoss, finalLoss: result.finalLoss, tokens: result.tokens, seconds: result.seconds },
    },
  });
  emit({
    type: 'phase-end',
    phase: role,
    seconds: (performance.now() - t0) / 1000,
    cached: false,
    detail: `loss ${result.firstLoss.toFixed(2)} → ${result.finalLoss.toFixed(3)}, ${Math.round(result.tokens / result.seconds)} tok/s`,
  });
}

export function buildArena(config: ArenaConfig, options: BuildOptions): ArenaBuild {
  const started = performance.now();
  const { prepared, release } = openEntry(config, options);
  try {
    for (const role of prepared.missing) trainArenaModel(modelJob(role, config, prepared), options.onEvent);
  } finally {
    release();
  }
  const { world, corpora, tokenizer, checkpoints, dir } = prepared;
  return { world, corpora, tokenizer, checkpoints, dir, buildSeconds: (performance.now() - started) / 1000 };
}

/**
 * `buildArena` with the missing models trained side by side in `workers` worker threads (the
 * five models are independent; the largest start first). The same checkpoints, byte for byte.
 */
export async function buildArenaInWorkers(config: ArenaConfig, options: BuildOptions & { workers: number }): Promise<ArenaBuild> {
  return startArenaInWorkers(config, options).finished;
}

/** An arena build under way: its world, corpora and tokenizer are ready, its models one by one. */
export interface ArenaBuildInProgress {
  /** the arena; `buildSeconds` is set when `finished` resolves */
  arena: ArenaBuild;
  /** resolves when the role's checkpoint is saved (at once when it was cached) */
  ready(role: ArenaModelRole): Promise<void>;
  finished: Promise<ArenaBuild>;
}

/**
 * `buildArenaInWorkers` that hands out each model as soon as it is saved, so that work needing
 * only some of them (mtsa run's Stage 1 needs the attacker and the embedder) can start while the
 * rest train. The target, the longest job, starts first; the attacker and the embedder next.
 */
export function startArenaInWorkers(config: ArenaConfig, options: BuildOptions & { workers: number }): ArenaBuildInProgress {
  const started = performance.now();
  const { prepared, release } = openEntry(config, options);
  const { world, corpora, tokenizer, checkpoints, dir } = prepared;
  const arena: ArenaBuild = { world, corpora, tokenizer, checkpoints, dir, buildSeconds: 0 };
  const order: ArenaModelRole[] = ['target', 'attacker', 'embedder', 'guard', 'helpfulness'];
  const missing = order.filter((role) => prepared.missing.includes(role));
  const trained = new Map<ArenaModelRole, Promise<void>>();
  let pool: WorkerPool<{ kernels: KernelName; job: ArenaModelJob }, null, BuildEvent> | null = null;
  try {
    if (options.workers <= 0) for (const role of missing) trainArenaModel(modelJob(role, config, prepared), options.onEvent);
    else if (missing.length > 0) {
      const size = Math.max(1, Math.min(options.workers, missing.length));
      const workers = new WorkerPool<{ kernels: KernelName; job: ArenaModelJob }, null, BuildEvent>(new URL('./build-worker.js', import.meta.url), size, null);
      pool = workers;
      // Every job goes to its worker's queue now: a worker's next model must not wait for this
      // thread to read a reply, which a busy Stage 1 would delay. The first model (the target,
      // the longest) has a worker of its own; the others share the rest in turn.
      missing.forEach((role, i) => {
        const index = i === 0 || size === 1 ? 0 : 1 + ((i - 1) % (size - 1));
        const done = workers.runOn(index, { kernels: kernels().name, job: modelJob(role, config, prepared) }, options.onEvent).then(() => {});
        done.catch(() => {}); // a failure surfaces through `finished` and `ready`
        trained.set(role, done);
      });
    }
  } catch (error) {
    release();
    void pool?.close();
    throw error;
  }
  const finished = (async () => {
    try {
      await Promise.all(trained.values());
    } finally {
      await pool?.close();
      release();
    }
    arena.buildSeconds = (performance.now() - started) / 1000;
    return arena;
  })();
  finished.catch(() => {}); // awaited by the caller; a failure must not be unhandled meanwhile
  return { arena, ready: (role) => trained.get(role) ?? Promise.resolve(), finished };
}

function writeCorpora(path: string, corpora: ArenaCorpora): void {
  if (existsSync(join(path, 'think-before-attack.jsonl'))) return;
  mkdirSync(path, { recursive: true });
  const lines = (items: unknown[]) => items.map((i) => JSON.stringify(i)).join('\n') + '\n';
  writeFileAtomic(join(path, 'target.jsonl'), lines(corpora.target));
  writeFileAtomic(join(path, 'attacker.jsonl'), lines(corpora.attacker));
  writeFileAtomic(join(path, 'guard.jsonl'), lines(corpora.guard));
  writeFileAtomic(join(path, 'helpfulness.jsonl'), lines(corpora.helpfulness));
  writeFileAtomic(join(path, 'embedder.jsonl'), lines(corpora.embedder.map((text) => ({ text }))));
  writeFileAtomic(join(path, 'think-before-attack.jsonl'), lines(corpora.thinkBeforeAttack));
}

/** Runs `load` on a cached model; a corrupt or non-finite entry becomes an error naming the directory to delete. */
export function fromCache<T>(build: ArenaBuild, role: ArenaModelRole, load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (error instanceof MtsaError) throw cacheEntryError(build.checkpoints[role], error);
    throw error;
  }
}
