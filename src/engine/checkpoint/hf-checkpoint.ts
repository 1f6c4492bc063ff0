/**
 * Checkpoints in the Hugging Face layout: config.json (LlamaForCausalLM fields), model.safetensors
 * and tokenizer.json, plus mtsa.json for what HF has no field for (chat template, provenance).
 * Directories are written atomically (temporary name, then rename).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeDirectoryAtomic } from '../../core/atomic-write.js';
import { ConfigError } from '../../core/errors.js';
import { LlamaModel, type LlamaConfig } from '../nn/llama.js';
import { ByteLevelBpeTokenizer } from '../tokenizer/byte-level-bpe.js';
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from './safetensors.js';

const HfLlamaConfigSchema = z.object({
  architectures: z.array(z.string()).optional(),
  model_type: z.literal('llama'),
  vocab_size: z.number().int().positive(),
  hidden_size: z.number().int().positive(),
  intermediate_size: z.number().int().positive(),
  num_hidden_layers: z.number().int().positive(),
  num_attention_heads: z.number().int().positive(),
  num_key_value_heads: z.number().int().positive().optional(),
  max_position_embeddings: z.number().int().positive(),
  rms_norm_eps: z.number().positive(),
  rope_theta: z.number().positive().default(10000),
  tie_word_embeddings: z.boolean().default(false),
  hidden_act: z.literal('silu').default('silu'),
  attention_bias: z.literal(false).optional(),
  mlp_bias: z.literal(false).optional(),
  rope_scaling: z.null().optional(),
  bos_token_id: z.number().int().nullable().optional(),
  eos_token_id: z.union([z.number().int(), z.array(z.number().int())]).nullable().optional(),
  pad_token_id: z.number().int().nullable().optional(),
});

/** Extra information stored beside the HF files. */
export interface CheckpointMetadata {
  /** chat template id (see models/chat-template.ts) */
  chatTemplate?: string;
  /** free-form provenance: what trained it, on what, for how long */
  [key: string]: unknown;
}

export interface Checkpoint {
  model: LlamaModel;
  tokenizer: ByteLevelBpeTokenizer;
  metadata: CheckpointMetadata;
}

export function toHfConfig(config: LlamaConfig, tokenizer?: ByteLevelBpeTokenizer): Record<string, unknown> {
  const special = (token: string) => (tokenizer?.specialTokens.includes(token) ? tokenizer.specialTokenId(token) : null);
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.numLayers,
    num_attention_heads: config.numHeads,
    num_key_value_heads: config.numKvHeads,
    head_dim: config.hiddenSize / config.numHeads,
    max_position_embeddings: config.maxPositions,
    rms_norm_eps: config.rmsNormEps,
    rope_theta: config.ropeTheta,
    rope_scaling: null,
    tie_word_embeddings: config.tieWordEmbeddings,
    hidden_act: 'silu',
    attention_bias: false,
    mlp_bias: false,
    initializer_range: 0.02,
    torch_dtype: 'float32',
    bos_token_id: special('<|bos|>'),
    eos_token_id: special('<|end|>'),
    pad_token_id: special('<|pad|>'),
    use_cache: true,
  };
}

export function fromHfConfig(json: unknown, source = 'config.json'): LlamaConfig {
  const parsed = HfLlamaConfigSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`${source}: field "${issue.path.join('.')}": ${issue.message} (only Llama-architecture checkpoints are supported)`);
  }
  const c = parsed.data;
  return {
    vocabSize: c.vocab_size,
    hiddenSize: c.hidden_size,
    intermediateSize: c.intermediate_size,
    numLayers: c.num_hidden_layers,
    numHeads: c.num_attention_heads,
    numKvHeads: c.num_key_value_heads ?? c.num_attention_heads,
    maxPositions: c.max_position_embeddings,
    rmsNormEps: c.rms_norm_eps,
    ropeTheta: c.rope_theta,
    tieWordEmbeddings: c.tie_word_embeddings,
  };
}

export function saveCheckpoint(dir: string, checkpoint: Checkpoint): void {
  const { model, tokenizer, metadata } = checkpoint;
  const tensors = new Map<string, NamedTensor>();
  for (const [name, t] of model.params) {
    // Tied models store no lm_head (HF convention); `model.head` is the embedding itself.
    tensors.set(name, { shape: [...t.shape], data: t.data });
  }
  writeDirectoryAtomic(dir, {
    'config.json': `${JSON.stringify(toHfConfig(model.config, tokenizer), null, 2)}\n`,
    'model.safetensors': encodeSafetensors(tensors),
    'tokenizer.json': JSON.stringify(tokenizer.toJSON()),
    'mtsa.json': `${JSON.stringify(metadata, null, 2)}\n`,
  });
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`${path}: ${(error as Error).message}`);
  }
}

export function loadCheckpoint(dir: string): Checkpoint {
  for (const file of ['config.json', 'model.safetensors', 'tokenizer.json']) {
    if (!existsSync(join(dir, file))) throw new ConfigError(`${dir}: missing ${file}; a checkpoint directory holds config.json, model.safetensors and tokenizer.json`);
  }
  const config = fromHfConfig(readJson(join(dir, 'config.json')), join(dir, 'config.json'));
  const model = new LlamaModel(config, null);
  const weightsPath = join(dir, 'model.safetensors');
  const { tensors } = decodeSafetensors(readFileSync(weightsPath), weightsPath);
  for (const [name, param] of model.params) {
    const stored = tensors.get(name);
    if (!stored) throw new ConfigError(`${weightsPath}: tensor "${name}" is missing`);
    if (stored.data.length !== param.size || stored.shape.join() !== param.shape.join()) {
      throw new ConfigError(`${weightsPath}: tensor "${name}" has shape [${stored.shape}], config.json implies [${param.shape}]`);
    }
    param.data.set(stored.data);
  }
  const tokenizer = ByteLevelBpeTokenizer.fromJSON(readJson(join(dir, 'tokenizer.json')));
  if (tokenizer.vocabSize > config.vocabSize) throw new ConfigError(`${dir}: tokenizer has ${tokenizer.vocabSize} tokens but config.json vocab_size is ${config.vocabSize}`);
  const metadataPath = join(dir, 'mtsa.json');
  const metadata = existsSync(metadataPath) ? (readJson(metadataPath) as CheckpointMetadata) : {};
  return { model, tokenizer, metadata };
}
