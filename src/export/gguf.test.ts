import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Message } from '../core/message.js';
import { Rng } from '../core/rng.js';
import { ChatTemplate } from '../models/chat-template.js';
import { MTSA_CHAT_TEMPLATE_JINJA } from '../models/chat-template-jinja.js';
import { findPythonVenv, runPythonJson } from '../testing/python-venv.js';
import { tinyModel, tinyTokenizer } from '../testing/tiny.js';
import { checkpointToGguf, permuteForLlamaCppRope, type GgufOutputType } from './gguf.js';
import { dequantizeQ8_0, fromHalf, quantizeQ8_0, toHalf } from './gguf-writer.js';

const corpus = ['hello there, how are you?', 'the cat sat on the mat', 'numbers 12 345 6789', 'Ünïcödé 日本語 text   with  spaces\n\nand lines'];

describe('GGUF encodings', () => {
  it('f16 bits round to nearest even, with subnormals and overflow', () => {
    expect(toHalf(1)).toBe(0x3c00);
    expect(toHalf(-2)).toBe(0xc000);
    expect(toHalf(0.1)).toBe(0x2e66);
    expect(toHalf(65504)).toBe(0x7bff);
    expect(toHalf(65520)).toBe(0x7c00); // halfway to 2^16 rounds to even: infinity
    expect(toHalf(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(toHalf(2 ** -26)).toBe(0x0000);
    expect(toHalf(1 + 2 ** -11)).toBe(0x3c00); // tie, even stays
    expect(toHalf(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie, odd rounds up
    expect(fromHalf(0x2e66)).toBeCloseTo(0.0999755859375, 12);
    expect(fromHalf(0x0001)).toBe(2 ** -24);
  });

  it('Q8_0: scale max|x|/127 as f16, values rounded half away from zero', () => {
    const block = Float32Array.from({ length: 32 }, (_, i) => i - 16); // -16 … 15
    const bytes = quantizeQ8_0(block, 32);
    expect(bytes.length).toBe(34);
    const view = new DataView(bytes.buffer);
    expect(view.getUint16(0, true)).toBe(toHalf(16 / 127));
    expect(view.getInt8(2)).toBe(-127); // -16 · 127/16
    expect(view.getInt8(2 + 17)).toBe(8); // 1 · 127/16 = 7.94
    expect(view.getInt8(2 + 31)).toBe(119); // 15 · 127/16 = 119.06
    expect(view.getInt8(2 + 16)).toBe(0);
    const back = dequantizeQ8_0(bytes);
    for (let i = 0; i < 32; i++) expect(Math.abs(back[i] - block[i])).toBeLessThanOrEqual(16 / 127 / 2 + 1e-3);
    expect(() => quantizeQ8_0(new Float32Array(48), 48)).toThrow(/multiple of 32/);
  });

  it('Q/K permutation pairs dimension i with i + D/2 → 2i with 2i + 1, per head', () => {
    // 2 heads of D = 4, one column: row r holds r
    const rows = Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(Array.from(permuteForLlamaCppRope(rows, 8, 1, 2))).toEqual([0, 2, 1, 3, 4, 6, 5, 7]);
    // two columns move together
    const wide = Float32Array.from([0, 10, 1, 11, 2, 12, 3, 13]);
    expect(Array.from(permuteForLlamaCppRope(wide, 4, 2, 1))).toEqual([0, 10, 2, 12, 1, 11, 3, 13]);
  });
});

interface ReadGguf {
  version: number;
  alignment: number;
  metadata: Record<string, unknown>;
  tensors: { name: string; shape: number[]; type: string; values?: number[] }[];
}

const venv = findPythonVenv();

describe.skipIf(!venv.python)('GGUF files read by llama.cpp’s gguf Python package', () => {
  const python = venv.python!;
  const tokenizer = tinyTokenizer(corpus, 300);
  const dir = mkdtempSync(join(tmpdir(), 'mtsa-gguf-'));

  function exportAndRead(model: ReturnType<typeof tinyModel>, type: GgufOutputType): ReadGguf {
    const path = join(dir, `${type}-${model.config.tieWordEmbeddings ? 'tied' : 'untied'}.gguf`);
    writeFileSync(path, checkpointToGguf({ model, tokenizer, metadata: { chatTemplate: 'mtsa-chat-v1' } }, { type, name: 'tiny' }).bytes);
    return runPythonJson(python, 'read_gguf.py', [path, '--values']) as ReadGguf;
  }

  // GQA (4 query heads, 2 KV heads), untied head, vocab larger than the tokenizer (padding ids)
  const untied = tinyModel(3, { vocabSize: 320, hiddenSize: 64, intermediateSize: 96, numHeads: 4, numKvHeads: 2, tieWordEmbeddings: false });
  const tied = tinyModel(4, { vocabSize: 300, hiddenSize: 64, intermediateSize: 96, numHeads: 4, numKvHeads: 4, tieWordEmbeddings: true });

  it('f32: every key, tensor name, shape (reversed dims) and value', () => {
    const read = exportAndRead(untied, 'f32');
    expect(read.version).toBe(3);
    expect(read.alignment).toBe(32);
    const m = read.metadata;
    expect(m).toMatchObject({
      'general.architecture': 'llama',
      'general.name': 'tiny',
      'general.file_type': 0,
      'llama.vocab_size': 320,
      'llama.context_length': 64,
      'llama.embedding_length': 64,
      'llama.block_count': 2,
      'llama.feed_forward_length': 96,
      'llama.attention.head_count': 4,
      'llama.attention.head_count_kv': 2,
      'llama.rope.dimension_count': 16,
      'llama.rope.freq_base': 10000,
      'tokenizer.ggml.model': 'gpt2',
      'tokenizer.ggml.pre': 'gpt-2',
      'tokenizer.ggml.pretokenizer': "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
      'tokenizer.ggml.bos_token_id': tokenizer.specialTokenId('<|bos|>'),
      'tokenizer.ggml.eos_token_id': tokenizer.specialTokenId('<|end|>'),
      'tokenizer.ggml.padding_token_id': tokenizer.specialTokenId('<|pad|>'),
      'tokenizer.ggml.add_bos_token': false,
      'tokenizer.chat_template': MTSA_CHAT_TEMPLATE_JINJA,
    });
    expect(m['llama.attention.layer_norm_rms_epsilon'] as number).toBeCloseTo(1e-5, 10);
    const tokens = m['tokenizer.ggml.tokens'] as string[];
    const types = m['tokenizer.ggml.token_type'] as number[];
    expect(tokens.length).toBe(320);
    expect(tokens.slice(0, 6)).toEqual(['<|pad|>', '<|end|>', '<|system|>', '<|user|>', '<|assistant|>', '<|bos|>']);
    expect(types.slice(0, 7)).toEqual([3, 3, 3, 3, 3, 3, 1]);
    expect(tokens[310]).toBe('[PAD310]');
    expect(types[310]).toBe(5);
    const json = tokenizer.toJSON() as { model: { merges: [string, string][] } };
    expect(m['tokenizer.ggml.merges']).toEqual(json.model.merges.map((pair) => pair.join(' ')));

    const names = read.tensors.map((t) => t.name);
    expect(names).toEqual([
      'token_embd.weight',
      ...[0, 1].flatMap((l) => ['attn_norm', 'attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_norm', 'ffn_gate', 'ffn_up', 'ffn_down'].map((n) => `blk.${l}.${n}.weight`)),
      'output_norm.weight',
      'output.weight',
    ]);
    const byName = new Map(read.tensors.map((t) => [t.name, t]));
    expect(byName.get('token_embd.weight')!.shape).toEqual([64, 320]);
    expect(byName.get('blk.0.attn_q.weight')!.shape).toEqual([64, 64]);
    expect(byName.get('blk.0.attn_k.weight')!.shape).toEqual([64, 32]);
    expect(byName.get('blk.1.ffn_down.weight')!.shape).toEqual([96, 64]);
    expect(byName.get('output_norm.weight')!.shape).toEqual([64]);
    expect(read.tensors.every((t) => t.type === 'F32')).toBe(true);
    expect(byName.get('blk.1.ffn_up.weight')!.values).toEqual(Array.from(untied.params.get('model.layers.1.mlp.up_proj.weight')!.data));
    const k = untied.params.get('model.layers.0.self_attn.k_proj.weight')!;
    expect(byName.get('blk.0.attn_k.weight')!.values).toEqual(Array.from(permuteForLlamaCppRope(k.data, 32, 64, 2)));
  });

  it('tied heads have no output tensor; f16 and q8_0 store 2-D weights as F16 / Q8_0 and norms as F32', () => {
    const tiedRead = exportAndRead(tied, 'f32');
    expect(tiedRead.tensors.map((t) => t.name)).not.toContain('output.weight');
    expect(tiedRead.metadata['llama.attention.head_count_kv']).toBe(4);

    const f16 = exportAndRead(untied, 'f16');
    expect(f16.metadata['general.file_type']).toBe(1);
    const up = untied.params.get('model.layers.0.mlp.up_proj.weight')!.data;
    const f16Up = f16.tensors.find((t) => t.name === 'blk.0.ffn_up.weight')!;
    expect(f16Up.type).toBe('F16');
    expect(f16Up.values).toEqual(Array.from(up, (v) => fromHalf(toHalf(v))));
    expect(f16.tensors.find((t) => t.name === 'blk.0.ffn_norm.weight')!.type).toBe('F32');

    const q8 = exportAndRead(untied, 'q8_0');
    expect(q8.metadata['general.file_type']).toBe(7);
    const q8Up = q8.tensors.find((t) => t.name === 'blk.0.ffn_up.weight')!;
    expect(q8Up.type).toBe('Q8_0');
    expect(q8Up.shape).toEqual([64, 96]);
    // gguf-py's dequantiser reads exactly what our writer meant
    expect(q8Up.values).toEqual(Array.from(dequantizeQ8_0(quantizeQ8_0(up, 64))));
    expect(q8.tensors.find((t) => t.name === 'blk.0.attn_norm.weight')!.type).toBe('F32');
  });

  it('the Jinja chat template renders the text our ChatTemplate renders as tokens', () => {
    const template = new ChatTemplate(tokenizer);
    const cases: { messages: Message[]; add_generation_prompt: boolean; generation_role?: 'user' }[] = [
      { messages: [{ role: 'user', content: 'hello there' }], add_generation_prompt: true },
      {
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'user', content: 'how are you?' },
          { role: 'assistant', content: 'the cat sat\n\non the mat' },
        ],
        add_generation_prompt: false,
      },
      {
        messages: [
          { role: 'user', content: 'Thinking 1: x' },
          { role: 'assistant', content: 'numbers 12 345' },
        ],
        add_generation_prompt: true,
        generation_role: 'user',
      },
    ];
    const rendered = runPythonJson(python, 'render_jinja.py', [], JSON.stringify({ template: MTSA_CHAT_TEMPLATE_JINJA, cases })) as string[];
    cases.forEach((c, i) => {
      const role = c.generation_role ?? (c.add_generation_prompt ? 'assistant' : undefined);
      expect(tokenizer.encode(rendered[i], { allowSpecial: true })).toEqual(template.render(c.messages, role).ids);
    });
    expect(rendered[0]).toBe('<|user|>hello there<|end|><|assistant|>');
  });
});

describe('GGUF export determinism', () => {
  it('same checkpoint, same bytes', () => {
    const tokenizer = tinyTokenizer(corpus, 300);
    const model = tinyModel(9, { vocabSize: 300, hiddenSize: 32, intermediateSize: 64, numHeads: 2, numKvHeads: 1 });
    const rng = new Rng(1);
    for (const t of model.params.values()) for (let i = 0; i < t.size; i++) t.data[i] += rng.normal() * 0.01;
    const a = checkpointToGguf({ model, tokenizer, metadata: {} }, { type: 'q8_0' }).bytes;
    const b = checkpointToGguf({ model, tokenizer, metadata: {} }, { type: 'q8_0' }).bytes;
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });
});
