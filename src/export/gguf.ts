/**
 * Our Llama checkpoints (HF layout, engine/checkpoint/hf-checkpoint.ts) as GGUF files for
 * llama.cpp's `llama` architecture: hyper-parameters, tensors under llama.cpp's names with Q/K
 * rows permuted for its RoPE, the byte-level BPE tokenizer with the matching pre-tokenizer name,
 * special-token ids and the chat template. The key and tensor mapping is in docs/gguf.md.
 */
import { writeFileSync } from 'node:fs';
import { ConfigError } from '../core/errors.js';
import { loadCheckpoint, type Checkpoint } from '../engine/checkpoint/hf-checkpoint.js';
import { PRE_TOKEN_PATTERN } from '../engine/tokenizer/byte-level.js';
import { CHAT_TEMPLATE_ID, SPECIAL_TOKENS } from '../models/chat-template.js';
import { MTSA_CHAT_TEMPLATE_JINJA } from '../models/chat-template-jinja.js';
import { encodeGguf, encodeTensor, GgmlType, gguf, Q8_0_BLOCK, type GgufTensor, type GgufValue } from './gguf-writer.js';

export type GgufOutputType = 'f32' | 'f16' | 'q8_0';

/**
 * llama.cpp's name for the pre-tokenizer whose split equals ours. Our pattern is GPT-2's
 * (`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`); llama.cpp maps
 * "gpt-2" to LLAMA_VOCAB_PRE_TYPE_GPT2, which runs its hand-written GPT-2 splitter (see
 * docs/gguf.md for the check and the few code points where the two still differ).
 */
export const GGUF_PRE_TOKENIZER = 'gpt-2';

/**
 * The pre-tokenisation regex itself, under the key Ollama's Go tokenizer reads
 * (`tokenizer.ggml.pretokenizer`); without it Ollama assumes Llama 3's pattern. llama.cpp ignores it.
 */
export const GGUF_PRE_TOKENIZER_REGEX = PRE_TOKEN_PATTERN.source;

/** llama.cpp token types */
export enum GgufTokenType {
  NORMAL = 1,
  UNKNOWN = 2,
  CONTROL = 3,
  USER_DEFINED = 4,
  UNUSED = 5,
  BYTE = 6,
}

/** general.file_type values (llama_ftype) */
const FILE_TYPE: Record<GgufOutputType, number> = { f32: 0, f16: 1, q8_0: 7 };

/**
 * Rows of a Q or K projection reordered from HF's rotate-half pairing (i with i + D/2 inside
 * each head) to llama.cpp's adjacent pairs (2i with 2i + 1): per head, reshape the rows as
 * (2, D/2) and transpose to (D/2, 2). `heads` is n_head for Q and n_head_kv for K.
 */
export function permuteForLlamaCppRope(weights: Float32Array, rows: number, columns: number, heads: number): Float32Array {
  const headDim = rows / heads;
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) throw new ConfigError(`cannot permute ${rows} rows into ${heads} heads of even size`);
  const half = headDim / 2;
  const out = new Float32Array(weights.length);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const from = h * headDim + j * half + i;
        const to = h * headDim + 2 * i + j;
        out.set(weights.subarray(from * columns, (from + 1) * columns), to * columns);
      }
    }
  }
  return out;
}

export interface GgufExportOptions {
  type: GgufOutputType;
  /** general.name (default: "mtsa") */
  name?: string;
}

export interface GgufExportResult {
  bytes: Uint8Array;
  /** tensor name → stored type (F32 for norms; F16 where Q8_0 was asked for rows not divisible by 32) */
  tensorTypes: Record<string, string>;
}

function tokenizerMetadata(checkpoint: Checkpoint, vocabSize: number): [string, GgufValue][] {
  const { tokenizer } = checkpoint;
  const json = tokenizer.toJSON() as { model: { vocab: Record<string, number>; merges: [string, string][] } };
  const tokens: string[] = new Array(vocabSize);
  const types: number[] = new Array(vocabSize);
  for (const [token, id] of Object.entries(json.model.vocab)) {
    if (id >= vocabSize) throw new ConfigError(`tokenizer token ${id} is outside the model's vocab_size ${vocabSize}`);
    tokens[id] = token;
    types[id] = tokenizer.isSpecial(id) ? GgufTokenType.CONTROL : GgufTokenType.NORMAL;
  }
  // Ids the model has but the tokenizer never produces get placeholder names (as llama.cpp's converter does).
  for (let id = 0; id < vocabSize; id++) {
    if (tokens[id] === undefined) {
      tokens[id] = `[PAD${id}]`;
      types[id] = GgufTokenType.UNUSED;
    }
  }
  for (const [left, right] of json.model.merges) {
    if (left.includes(' ') || right.includes(' ')) throw new ConfigError(`merge "${left}" + "${right}" contains a space and cannot be written as a GGUF "a b" merge`);
  }
  const id = (token: string) => (tokenizer.specialTokens.includes(token) ? tokenizer.specialTokenId(token) : undefined);
  const entries: [string, GgufValue][] = [
    ['tokenizer.ggml.model', gguf.string('gpt2')],
    ['tokenizer.ggml.pre', gguf.string(GGUF_PRE_TOKENIZER)],
    ['tokenizer.ggml.pretokenizer', gguf.string(GGUF_PRE_TOKENIZER_REGEX)],
    ['tokenizer.ggml.tokens', gguf.strings(tokens)],
    ['tokenizer.ggml.token_type', gguf.i32s(types)],
    ['tokenizer.ggml.merges', gguf.strings(json.model.merges.map(([left, right]) => `${left} ${right}`))],
  ];
  const special: [string, string][] = [
    ['tokenizer.ggml.bos_token_id', '<|bos|>'],
    ['tokenizer.ggml.eos_token_id', '<|end|>'],
    ['tokenizer.ggml.eot_token_id', '<|end|>'],
    ['tokenizer.ggml.padding_token_id', '<|pad|>'],
  ];
  for (const [key, token] of special) {
    const value = id(token);
    if (value !== undefined) entries.push([key, gguf.u32(value)]);
  }
  // Our template renders no BOS: sequences start with a role token.
  entries.push(['tokenizer.ggml.add_bos_token', gguf.bool(false)], ['tokenizer.ggml.add_eos_token', gguf.bool(false)]);
  const ours = checkpoint.metadata.chatTemplate === undefined || checkpoint.metadata.chatTemplate === CHAT_TEMPLATE_ID;
  if (ours && SPECIAL_TOKENS.every((token) => tokenizer.specialTokens.includes(token))) {
    entries.push(['tokenizer.chat_template', gguf.string(MTSA_CHAT_TEMPLATE_JINJA)]);
  }
  return entries;
}

/** The GGUF bytes of a loaded checkpoint. */
export function checkpointToGguf(checkpoint: Checkpoint, options: GgufExportOptions): GgufExportResult {
  const { model } = checkpoint;
  const c = model.config;
  const headDim = c.hiddenSize / c.numHeads;
  const metadata = new Map<string, GgufValue>([
    ['general.architecture', gguf.string('llama')],
    ['general.name', gguf.string(options.name ?? 'mtsa')],
    ['general.alignment', gguf.u32(32)],
    ['general.file_type', gguf.u32(FILE_TYPE[options.type])],
    ['llama.vocab_size', gguf.u32(c.vocabSize)],
    ['llama.context_length', gguf.u32(c.maxPositions)],
    ['llama.embedding_length', gguf.u32(c.hiddenSize)],
    ['llama.block_count', gguf.u32(c.numLayers)],
    ['llama.feed_forward_length', gguf.u32(c.intermediateSize)],
    ['llama.attention.head_count', gguf.u32(c.numHeads)],
    ['llama.attention.head_count_kv', gguf.u32(c.numKvHeads)],
    ['llama.attention.layer_norm_rms_epsilon', gguf.f32(c.rmsNormEps)],
    ['llama.rope.freq_base', gguf.f32(c.ropeTheta)],
    ['llama.rope.dimension_count', gguf.u32(headDim)],
  ]);
  for (const [key, value] of tokenizerMetadata(checkpoint, c.vocabSize)) metadata.set(key, value);

  const tensors: GgufTensor[] = [];
  const tensorTypes: Record<string, string> = {};
  const add = (name: string, source: string, transform?: (w: Float32Array, rows: number, columns: number) => Float32Array) => {
    const param = model.params.get(source);
    if (!param) throw new ConfigError(`checkpoint has no tensor ${source}`);
    const shape = [...param.shape];
    const columns = shape[shape.length - 1];
    const rows = param.size / columns;
    const values = transform ? transform(param.data, rows, columns) : param.data;
    // Norm vectors stay F32 (llama.cpp's converter does the same); Q8_0 needs 32 | row length.
    let type = GgmlType.F32;
    if (shape.length === 2 && options.type === 'f16') type = GgmlType.F16;
    if (shape.length === 2 && options.type === 'q8_0') type = columns % Q8_0_BLOCK === 0 ? GgmlType.Q8_0 : GgmlType.F16;
    tensors.push({ name, shape, type, data: encodeTensor(values, shape, type) });
    tensorTypes[name] = GgmlType[type];
  };
  add('token_embd.weight', 'model.embed_tokens.weight');
  for (let l = 0; l < c.numLayers; l++) {
    const hf = `model.layers.${l}.`;
    const gg = `blk.${l}.`;
    add(`${gg}attn_norm.weight`, `${hf}input_layernorm.weight`);
    add(`${gg}attn_q.weight`, `${hf}self_attn.q_proj.weight`, (w, rows, columns) => permuteForLlamaCppRope(w, rows, columns, c.numHeads));
    add(`${gg}attn_k.weight`, `${hf}self_attn.k_proj.weight`, (w, rows, columns) => permuteForLlamaCppRope(w, rows, columns, c.numKvHeads));
    add(`${gg}attn_v.weight`, `${hf}self_attn.v_proj.weight`);
    add(`${gg}attn_output.weight`, `${hf}self_attn.o_proj.weight`);
    add(`${gg}ffn_norm.weight`, `${hf}post_attention_layernorm.weight`);
    add(`${gg}ffn_gate.weight`, `${hf}mlp.gate_proj.weight`);
    add(`${gg}ffn_up.weight`, `${hf}mlp.up_proj.weight`);
    add(`${gg}ffn_down.weight`, `${hf}mlp.down_proj.weight`);
  }
  add('output_norm.weight', 'model.norm.weight');
  // Tied heads: llama.cpp falls back to token_embd when `output` is absent.
  if (!c.tieWordEmbeddings) add('output.weight', 'lm_head.weight');
  return { bytes: encodeGguf(metadata, tensors), tensorTypes };
}

/** Reads the checkpoint directory and writes the GGUF file. */
export function exportGguf(checkpointDir: string, outPath: string, options: GgufExportOptions): GgufExportResult {
  const result = checkpointToGguf(loadCheckpoint(checkpointDir), options);
  writeFileSync(outPath, result.bytes);
  return result;
}
