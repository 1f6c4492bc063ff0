/**
 * Checkpoints in the Hugging Face layout: config.json (LlamaForCausalLM fields), model.safetensors
 * and tokenizer.json, plus mtsa.json for what HF has no field for (provenance) and, given a chat
 * template, tokenizer_config.json (Jinja `chat_template`, special tokens) and generation_config.json.
 * Directories are written atomically (temporary name, then rename).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeDirectoryAtomic, writeFileAtomic } from '../../core/atomic-write.js';
import { ConfigError } from '../../core/errors.js';
import { LlamaModel, type LlamaConfig } from '../nn/llama.js';
import { ByteLevelBpeTokenizer } from '../tokenizer/byte-level-bpe.js';
import { decodeSafetensors, encodeSafetensors, readSafetensorsHeader, type NamedTensor } from './safetensors.js';

/**
 * Sane bounds, checked before anything is allocated: well above any released Llama-architecture
 * model (vocabularies up to 262k, 126 layers, hidden 16k, 1M positions), far below what would
 * exhaust memory from a crafted config.json alone.
 */
export const CONFIG_BOUNDS = {
  vocab_size: 1 << 22,
  hidden_size: 1 << 16,
  intermediate_size: 1 << 18,
  num_hidden_layers: 1024,
  num_attention_heads: 1024,
  max_position_embeddings: 1 << 22,
} as const;

const bounded = (field: keyof typeof CONFIG_BOUNDS) => z.number().int().positive().max(CONFIG_BOUNDS[field]);

const HfLlamaConfigSchema = z.object({
  architectures: z.array(z.string()).optional(),
  model_type: z.literal('llama'),
  vocab_size: bounded('vocab_size'),
  hidden_size: bounded('hidden_size'),
  intermediate_size: bounded('intermediate_size'),
  num_hidden_layers: bounded('num_hidden_layers'),
  num_attention_heads: bounded('num_attention_heads'),
  num_key_value_heads: bounded('num_attention_heads').optional(),
  max_position_embeddings: bounded('max_position_embeddings'),
  rms_norm_eps: z.number().positive(),
  rope_theta: z.number().positive().default(10000),
  tie_word_embeddings: z.boolean().default(false),
  hidden_act: z.literal('silu').default('silu'),
  attention_bias: z.literal(false).optional(),
  mlp_bias: z.literal(false).optional(),
  rope_scaling: z.null().optional(),
  bos_token_id: z.number().int().nullable().optional(),
  eos_token_id: z
    .union([z.number().int(), z.array(z.number().int())])
    .nullable()
    .optional(),
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
  /** the chat template in Jinja and its special tokens: written to tokenizer_config.json / generation_config.json */
  chat?: HfChatTemplate;
}

/** What Hugging Face tooling needs to apply a chat template (the engine treats it as opaque text). */
export interface HfChatTemplate {
  jinja: string;
  bos: string;
  eos: string;
  pad: string;
}

/**
 * tokenizer_config.json and generation_config.json, so that `AutoTokenizer.from_pretrained(dir)`
 * + `apply_chat_template` renders our prompts and `transformers serve` can serve the checkpoint.
 * Sampling defaults are neutral (top_k 0: no top-k filter, top_p 1), like our engine's; requests
 * set temperature and top_p themselves.
 */
export function hfTokenizerFiles(maxPositions: number, tokenizer: ByteLevelBpeTokenizer, chat: HfChatTemplate): Record<string, string> {
  const id = (token: string) => tokenizer.specialTokenId(token);
  const addedTokensDecoder = Object.fromEntries(
    tokenizer.specialTokens.map((content) => [String(id(content)), { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true }]),
  );
  const tokenizerConfig = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: chat.bos,
    eos_token: chat.eos,
    pad_token: chat.pad,
    unk_token: null,
    add_bos_token: false,
    add_eos_token: false,
    add_prefix_space: false,
    clean_up_tokenization_spaces: false,
    model_max_length: maxPositions,
    added_tokens_decoder: addedTokensDecoder,
    chat_template: chat.jinja,
  };
  const generationConfig = {
    bos_token_id: id(chat.bos),
    eos_token_id: id(chat.eos),
    pad_token_id: id(chat.pad),
    do_sample: true,
    temperature: 1.0,
    top_p: 1.0,
    top_k: 0,
  };
  return {
    'tokenizer_config.json': `${JSON.stringify(tokenizerConfig, null, 2)}\n`,
    'special_tokens_map.json': `${JSON.stringify({ bos_token: chat.bos, eos_token: chat.eos, pad_token: chat.pad }, null, 2)}\n`,
    'generation_config.json': `${JSON.stringify(generationConfig, null, 2)}\n`,
  };
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
    const remedy = issue.code === 'too_big' ? 'far above any real model: this config.json is corrupt or crafted' : 'only Llama-architecture checkpoints are supported';
    throw new ConfigError(`${source}: field "${issue.path.join('.')}": ${issue.message} (${remedy})`);
  }
  const c = parsed.data;
  const kv = c.num_key_value_heads ?? c.num_attention_heads;
  const head = c.hidden_size / c.num_attention_heads;
  if (!Number.isInteger(head) || head % 2 !== 0) throw new ConfigError(`${source}: hidden_size ${c.hidden_size} / num_attention_heads ${c.num_attention_heads} must be an even integer head size`);
  if (c.num_attention_heads % kv !== 0) throw new ConfigError(`${source}: num_attention_heads ${c.num_attention_heads} is not a multiple of num_key_value_heads ${kv}`);
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
    ...(checkpoint.chat ? hfTokenizerFiles(model.config.maxPositions, tokenizer, checkpoint.chat) : {}),
  });
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`${path}: not readable JSON (${(error as Error).message})`, { cause: error });
  }
}

/** A tokenizer.json file; errors name the file. */
export function readTokenizer(path: string): ByteLevelBpeTokenizer {
  const json = readJson(path);
  try {
    return ByteLevelBpeTokenizer.fromJSON(json);
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(`${path}: ${error.message}`, { cause: error });
    throw error;
  }
}

/** The parameter names and shapes a config implies (the names LlamaModel gives them), without allocating. */
export function llamaParameterShapes(config: LlamaConfig): Map<string, number[]> {
  const { vocabSize: V, hiddenSize: C, intermediateSize: F, numHeads: H, numKvHeads: KV, numLayers: L } = config;
  const D = C / H;
  const shapes = new Map<string, number[]>([['model.embed_tokens.weight', [V, C]]]);
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}.`;
    shapes.set(`${p}input_layernorm.weight`, [C]);
    shapes.set(`${p}self_attn.q_proj.weight`, [H * D, C]);
    shapes.set(`${p}self_attn.k_proj.weight`, [KV * D, C]);
    shapes.set(`${p}self_attn.v_proj.weight`, [KV * D, C]);
    shapes.set(`${p}self_attn.o_proj.weight`, [C, H * D]);
    shapes.set(`${p}post_attention_layernorm.weight`, [C]);
    shapes.set(`${p}mlp.gate_proj.weight`, [F, C]);
    shapes.set(`${p}mlp.up_proj.weight`, [F, C]);
    shapes.set(`${p}mlp.down_proj.weight`, [C, F]);
  }
  shapes.set('model.norm.weight', [C]);
  if (!config.tieWordEmbeddings) shapes.set('lm_head.weight', [V, C]);
  return shapes;
}

export function loadCheckpoint(dir: string): Checkpoint {
  for (const file of ['config.json', 'model.safetensors', 'tokenizer.json']) {
    if (!existsSync(join(dir, file))) throw new ConfigError(`${dir}: missing ${file}; a checkpoint directory holds config.json, model.safetensors and tokenizer.json`);
  }
  const config = fromHfConfig(readJson(join(dir, 'config.json')), join(dir, 'config.json'));
  const weightsPath = join(dir, 'model.safetensors');
  const buffer = readFileSync(weightsPath);
  // config.json against the tensor header before the model is allocated: a crafted config can then
  // claim no more memory than the file actually holds.
  const header = readSafetensorsHeader(buffer, weightsPath);
  const stored = new Map(header.tensors.map((t) => [t.name, t.shape]));
  for (const [name, shape] of llamaParameterShapes(config)) {
    const found = stored.get(name);
    if (!found) throw new ConfigError(`${weightsPath}: tensor "${name}" is missing (config.json in ${dir} describes a different model)`);
    if (found.join() !== shape.join()) throw new ConfigError(`${weightsPath}: tensor "${name}" has shape [${found}], config.json implies [${shape}]`);
  }
  const { tensors } = decodeSafetensors(buffer, weightsPath);
  const model = new LlamaModel(config, null);
  for (const [name, param] of model.params) param.data.set(tensors.get(name)!.data);
  const tokenizer = readTokenizer(join(dir, 'tokenizer.json'));
  if (tokenizer.vocabSize > config.vocabSize) throw new ConfigError(`${dir}: tokenizer has ${tokenizer.vocabSize} tokens but config.json vocab_size is ${config.vocabSize}`);
  const metadataPath = join(dir, 'mtsa.json');
  const metadata = existsSync(metadataPath) ? (readJson(metadataPath) as CheckpointMetadata) : {};
  return { model, tokenizer, metadata };
}

/**
 * Adds tokenizer_config.json / generation_config.json to a checkpoint written before they existed
 * (cached arena models); each file is written atomically and only when missing.
 */
export function addHfTokenizerFiles(dir: string, chat: HfChatTemplate): void {
  if (existsSync(join(dir, 'tokenizer_config.json')) && existsSync(join(dir, 'generation_config.json'))) return;
  const config = fromHfConfig(readJson(join(dir, 'config.json')), join(dir, 'config.json'));
  const tokenizer = readTokenizer(join(dir, 'tokenizer.json'));
  for (const [name, text] of Object.entries(hfTokenizerFiles(config.maxPositions, tokenizer, chat))) {
    if (!existsSync(join(dir, name))) writeFileAtomic(join(dir, name), text);
  }
}
