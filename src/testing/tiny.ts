/**
 * Tiny models and tokenizers for tests: seconds to train, same code paths as the real thing.
 */
import { Rng } from '../core/rng.js';
import { LlamaModel, defaultLlamaConfig, type LlamaConfig } from '../engine/nn/llama.js';
import { ByteLevelBpeTokenizer } from '../engine/tokenizer/byte-level-bpe.js';
import { SPECIAL_TOKENS } from '../models/chat-template.js';

export function tinyConfig(overrides: Partial<LlamaConfig> = {}): LlamaConfig {
  return defaultLlamaConfig({ vocabSize: 64, hiddenSize: 16, intermediateSize: 24, numLayers: 2, numHeads: 4, numKvHeads: 2, maxPositions: 64, ...overrides });
}

export function tinyModel(seed = 0, overrides: Partial<LlamaConfig> = {}): LlamaModel {
  return new LlamaModel(tinyConfig(overrides), new Rng(seed));
}

export function tinyTokenizer(corpus: string[], vocabSize = 300): ByteLevelBpeTokenizer {
  return ByteLevelBpeTokenizer.train(corpus, { vocabSize, specialTokens: [...SPECIAL_TOKENS], minFrequency: 1 });
}
