/**
 * The arena's configuration: world, behaviour, corpus sizes and the size and training of each
 * model. Every field has a default and a description. Defaults build everything in a few minutes
 * on two cores with the native kernels; `tinyArenaConfig` is what the tests use.
 */
import { z } from 'zod';
import { DEFAULT_TARGET_BEHAVIOUR, DEFAULT_THOUGHT_GUIDED } from './scripted.js';

const probability = z.number().min(0).max(1);

const strategyRecord = z.object({
  'purpose-inversion': probability,
  'query-decomposition': probability,
  'role-play': probability,
  mixed: probability,
  crescendo: probability,
});

export const TargetBehaviourSchema = z
  .object({
    direct: probability.describe('P(comply) with a plain harmful request'),
    payload: strategyRecord.describe('P(comply) with a disguised request without preparation, per strategy'),
    preparedBonus: strategyRecord.describe('added to P(comply) when the request follows a matching setup, background answer or escalation'),
    momentum: probability.describe('P(comply) floor for the next step right after a reveal'),
    afterRefusal: probability.describe('multiplier on P(comply) right after a refusal'),
    preambleRefusal: probability.describe('P(a setup or background question is itself refused)'),
    explainedRefusal: probability.describe('share of refusals that explain why, in the style the safety hint asks for'),
  })
  .strict();

export const ThoughtGuidedSchema = z
  .object({
    strategyWeights: z
      .object({ direct: z.number().min(0), 'purpose-inversion': z.number().min(0), 'query-decomposition': z.number().min(0), 'role-play': z.number().min(0), mixed: z.number().min(0) })
      .strict()
      .describe('how often the scripted thought-guided attacker picks each strategy'),
    prepareRate: probability.describe('P(prepare with a setup/probe before a disguised request)'),
    switchRate: probability.describe('P(switch strategy after a refusal) (else rephrase)'),
  })
  .strict();

export const ModelSizeSchema = z
  .object({
    hiddenSize: z.number().int().positive().describe('d_model'),
    numLayers: z.number().int().positive(),
    numHeads: z.number().int().positive(),
    numKvHeads: z.number().int().positive().describe('grouped-query key/value heads'),
    intermediateSize: z.number().int().positive().describe('SwiGLU width'),
    maxPositions: z.number().int().positive().describe('longest prompt + reply in tokens'),
    epochs: z.number().positive().describe('passes over the corpus'),
    batchSize: z.number().int().positive().describe('sequences per optimiser step'),
    lr: z.number().positive().describe('peak learning rate (AdamW, warm-up then cosine)'),
  })
  .strict();
export type ModelSize = z.infer<typeof ModelSizeSchema>;

/** A role's size schema whose every field defaults separately, so a config may override one. */
function model(defaults: ModelSize) {
  const shape = ModelSizeSchema.shape;
  return z
    .object({
      hiddenSize: shape.hiddenSize.default(defaults.hiddenSize),
      numLayers: shape.numLayers.default(defaults.numLayers),
      numHeads: shape.numHeads.default(defaults.numHeads),
      numKvHeads: shape.numKvHeads.default(defaults.numKvHeads),
      intermediateSize: shape.intermediateSize.default(defaults.intermediateSize),
      maxPositions: shape.maxPositions.default(defaults.maxPositions),
      epochs: shape.epochs.default(defaults.epochs),
      batchSize: shape.batchSize.default(defaults.batchSize),
      lr: shape.lr.default(defaults.lr),
    })
    .strict()
    .default(defaults);
}

/**
 * Two layers, not four: copying (benign answers, the goal inside a placeholder) needs induction
 * heads, and in our measurements a 2-layer d128 model formed them in ~1000 steps where a 4-layer
 * one needed twice as many (docs/decisions/0002-arena-sizes.md).
 */
const DEFAULT_SIZES = {
  target: { hiddenSize: 128, numLayers: 2, numHeads: 4, numKvHeads: 4, intermediateSize: 384, maxPositions: 512, epochs: 2, batchSize: 16, lr: 3e-3 },
  attacker: { hiddenSize: 128, numLayers: 2, numHeads: 4, numKvHeads: 4, intermediateSize: 384, maxPositions: 640, epochs: 2, batchSize: 16, lr: 3e-3 },
  guard: { hiddenSize: 64, numLayers: 2, numHeads: 2, numKvHeads: 2, intermediateSize: 160, maxPositions: 256, epochs: 2, batchSize: 16, lr: 3e-3 },
  helpfulness: { hiddenSize: 64, numLayers: 2, numHeads: 2, numKvHeads: 2, intermediateSize: 160, maxPositions: 160, epochs: 2, batchSize: 16, lr: 3e-3 },
  embedder: { hiddenSize: 64, numLayers: 2, numHeads: 2, numKvHeads: 2, intermediateSize: 160, maxPositions: 128, epochs: 1, batchSize: 32, lr: 3e-3 },
} satisfies Record<string, ModelSize>;

const DEFAULT_CORPORA = {
  targetDialogues: 6000,
  benignSingles: 8000,
  attackerDialogues: 3000,
  thinkBeforeAttackAttempts: 4000,
  keepSuccessfulOnly: true,
  guardExamples: 6000,
  helpfulnessExamples: 4000,
  embedderTexts: 4000,
  labelNoise: 0.05,
};

export const ArenaConfigSchema = z
  .object({
    seed: z.number().int().default(1).describe('seed of the world, the corpora and every arena model'),
    testFraction: z.number().min(0.05).max(0.5).default(0.2).describe('share of each harm category held out for evaluation'),
    maxTurns: z.number().int().min(1).max(8).default(5).describe('turns per dialogue (H)'),
    behaviour: TargetBehaviourSchema.default(DEFAULT_TARGET_BEHAVIOUR).describe("the base target's ground-truth vulnerability"),
    scriptedAttacker: ThoughtGuidedSchema.default(DEFAULT_THOUGHT_GUIDED).describe('the scripted thought-guided attacker that writes the Think-before-Attack corpus'),
    corpora: z
      .object({
        targetDialogues: z.number().int().positive().default(6000).describe("dialogues in the target's corpus"),
        benignSingles: z.number().int().nonnegative().default(8000).describe("extra single-turn benign requests in the target's corpus (copying is learned slowest)"),
        attackerDialogues: z.number().int().positive().default(3000).describe("general dialogues in the attacker base's corpus"),
        thinkBeforeAttackAttempts: z.number().int().positive().default(4000).describe('scripted attacks tried for the Think-before-Attack corpus'),
        keepSuccessfulOnly: z.boolean().default(true).describe('keep only successful attacks in the Think-before-Attack corpus (docs/method.md §3.2)'),
        guardExamples: z.number().int().positive().default(6000).describe('labelled (context, reply) pairs for the guard'),
        helpfulnessExamples: z.number().int().positive().default(4000).describe('labelled (request, reply) pairs for the helpfulness scorer'),
        embedderTexts: z.number().int().positive().default(4000).describe("texts for the embedder's language model"),
        labelNoise: probability.default(0.05).describe('share of guard labels flipped (judges are imperfect)'),
      })
      .strict()
      .default(DEFAULT_CORPORA),
    vocabSize: z.number().int().min(300).default(1024).describe('byte-level BPE vocabulary shared by all arena models'),
    models: z
      .object({
        target: model(DEFAULT_SIZES.target).describe('the model MTSA aligns'),
        attacker: model(DEFAULT_SIZES.attacker).describe('the attacker base (general dialogue); Stage 1 turns it into the red team'),
        guard: model(DEFAULT_SIZES.guard).describe('the safety judge (P(unsafe) of its first answer token)'),
        helpfulness: model(DEFAULT_SIZES.helpfulness).describe('the helpfulness scorer (P(good))'),
        embedder: model(DEFAULT_SIZES.embedder).describe('sentence embedder for the diversity reward (mean-pooled states)'),
      })
      .strict()
      .default(DEFAULT_SIZES),
  })
  .strict();

export type ArenaConfig = z.infer<typeof ArenaConfigSchema>;
export type ArenaModelRole = keyof ArenaConfig['models'];

export function defaultArenaConfig(): ArenaConfig {
  return ArenaConfigSchema.parse({});
}

/** Seconds-scale arena whose models learn nothing useful: for determinism and cache tests. */
export function microArenaConfig(seed = 1): ArenaConfig {
  const small = (maxPositions: number): ModelSize => ({ hiddenSize: 32, numLayers: 1, numHeads: 2, numKvHeads: 1, intermediateSize: 64, maxPositions, epochs: 1, batchSize: 16, lr: 5e-3 });
  return ArenaConfigSchema.parse({
    seed,
    maxTurns: 2,
    corpora: {
      targetDialogues: 120,
      benignSingles: 40,
      attackerDialogues: 60,
      thinkBeforeAttackAttempts: 60,
      keepSuccessfulOnly: true,
      guardExamples: 120,
      helpfulnessExamples: 80,
      embedderTexts: 80,
      labelNoise: 0.05,
    },
    vocabSize: 420,
    models: { target: small(512), attacker: small(640), guard: small(256), helpfulness: small(160), embedder: small(128) },
  });
}

/**
 * The smallest arena whose models behave (the attacker learns the format, the target is
 * attackable, the guard agrees with the oracle): about a minute to build. Tests and `--tiny` runs.
 */
export function tinyArenaConfig(seed = 1): ArenaConfig {
  const size = (maxPositions: number, hiddenSize: number, epochs: number): ModelSize => ({
    hiddenSize,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 4,
    intermediateSize: 2 * hiddenSize,
    maxPositions,
    epochs,
    batchSize: 16,
    lr: 4e-3,
  });
  return ArenaConfigSchema.parse({
    seed,
    maxTurns: 3,
    // More vulnerable than the default world, so that a one-iteration test sees unsafe turns.
    behaviour: { ...DEFAULT_TARGET_BEHAVIOUR, direct: 0.2, payload: { 'purpose-inversion': 0.45, 'query-decomposition': 0.45, 'role-play': 0.45, mixed: 0.45, crescendo: 0.45 } },
    corpora: {
      targetDialogues: 1500,
      benignSingles: 2000,
      attackerDialogues: 800,
      thinkBeforeAttackAttempts: 1200,
      keepSuccessfulOnly: true,
      guardExamples: 1500,
      helpfulnessExamples: 600,
      embedderTexts: 600,
      labelNoise: 0.05,
    },
    vocabSize: 900,
    models: { target: size(384, 96, 2), attacker: size(512, 96, 2), guard: size(192, 64, 3), helpfulness: size(128, 48, 2), embedder: size(96, 48, 1) },
  });
}
