import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.js';
import { tinyModel, tinyTokenizer } from '../../testing/tiny.js';
import { Tensor, noGrad } from '../tensor.js';
import { loadCheckpoint, saveCheckpoint } from './hf-checkpoint.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';

const corpus = ['hello there, how are you?', 'the cat sat on the mat', 'numbers 12 345 6789'];

function logitsOf(model: ReturnType<typeof tinyModel>, ids: number[]): Float32Array {
  return noGrad(() => model.logits(model.forwardHidden({ ids: Int32Array.from(ids), batch: 1, seqLen: ids.length })).data.slice());
}

describe('Hugging Face checkpoint', () => {
  it('save → load gives identical logits, tokenizer and metadata', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'mtsa-ckpt-')), 'model');
    const tokenizer = tinyTokenizer(corpus, 280);
    const model = tinyModel(11, { vocabSize: tokenizer.vocabSize, tieWordEmbeddings: false });
    saveCheckpoint(dir, { model, tokenizer, metadata: { chatTemplate: 'mtsa-chat-v1', note: 'test' } });
    const loaded = loadCheckpoint(dir);
    const ids = tokenizer.encode('the cat sat');
    expect(Array.from(logitsOf(loaded.model, ids))).toEqual(Array.from(logitsOf(model, ids)));
    expect(loaded.tokenizer.encode('how are you')).toEqual(tokenizer.encode('how are you'));
    expect(loaded.metadata).toEqual({ chatTemplate: 'mtsa-chat-v1', note: 'test' });
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ architectures: ['LlamaForCausalLM'], model_type: 'llama', num_key_value_heads: 2, tie_word_embeddings: false, hidden_act: 'silu' });
    // saving twice gives the same bytes
    const dir2 = join(dir, '..', 'again');
    saveCheckpoint(dir2, { model: loaded.model, tokenizer: loaded.tokenizer, metadata: loaded.metadata });
    expect(readFileSync(join(dir2, 'model.safetensors')).equals(readFileSync(join(dir, 'model.safetensors')))).toBe(true);
  });

  it('tied checkpoints store no lm_head, as Hugging Face does', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'mtsa-ckpt-')), 'tied');
    const tokenizer = tinyTokenizer(corpus, 280);
    saveCheckpoint(dir, { model: tinyModel(1, { vocabSize: tokenizer.vocabSize }), tokenizer, metadata: {} });
    const { tensors } = decodeSafetensors(readFileSync(join(dir, 'model.safetensors')));
    expect(tensors.has('lm_head.weight')).toBe(false);
    expect(tensors.has('model.embed_tokens.weight')).toBe(true);
  });

  it('bad checkpoints give errors that name the file and field', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'mtsa-ckpt-')), 'bad');
    const tokenizer = tinyTokenizer(corpus, 280);
    saveCheckpoint(dir, { model: tinyModel(1, { vocabSize: tokenizer.vocabSize }), tokenizer, metadata: {} });
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, hidden_size: 32 }));
    expect(() => loadCheckpoint(dir)).toThrow(/model\.safetensors: tensor "model\.embed_tokens\.weight" has shape/);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, model_type: 'gpt2' }));
    expect(() => loadCheckpoint(dir)).toThrow(/config\.json: field "model_type"/);
    expect(() => loadCheckpoint(join(dir, 'nowhere'))).toThrow(/missing config\.json/);
  });
});

describe('safetensors', () => {
  it('header is 8-byte aligned and round-trips F32', () => {
    const rng = new Rng(1);
    const a = Tensor.zeros([3, 5]);
    a.data.forEach((_, i) => (a.data[i] = rng.normal()));
    const bytes = encodeSafetensors(
      new Map([
        ['a', { shape: [3, 5], data: a.data }],
        ['b', { shape: [2], data: Float32Array.of(1, -2) }],
      ]),
    );
    expect((8 + Number(bytes.readBigUInt64LE(0))) % 8).toBe(0);
    const decoded = decodeSafetensors(bytes);
    expect(Array.from(decoded.tensors.get('a')!.data)).toEqual(Array.from(a.data));
    expect(decoded.tensors.get('b')!.shape).toEqual([2]);
  });

  it('reads F16 and BF16 tensors', () => {
    const header = JSON.stringify({ h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] }, b: { dtype: 'BF16', shape: [2], data_offsets: [4, 8] } });
    const buffer = Buffer.alloc(8 + header.length + 8);
    buffer.writeBigUInt64LE(BigInt(header.length));
    buffer.write(header, 8);
    const data = 8 + header.length;
    buffer.writeUInt16LE(0x3c00, data); // 1.0
    buffer.writeUInt16LE(0xc000, data + 2); // -2.0
    buffer.writeUInt16LE(0x3fc0, data + 4); // 1.5 in bfloat16
    buffer.writeUInt16LE(0x4049, data + 6); // ≈3.140625
    const { tensors } = decodeSafetensors(buffer);
    expect(Array.from(tensors.get('h')!.data)).toEqual([1, -2]);
    expect(tensors.get('b')!.data[0]).toBe(1.5);
    expect(tensors.get('b')!.data[1]).toBeCloseTo(3.140625, 6);
  });

  it('rejects unsupported dtypes and truncated files by name', () => {
    const header = JSON.stringify({ x: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } });
    const buffer = Buffer.alloc(8 + header.length + 8);
    buffer.writeBigUInt64LE(BigInt(header.length));
    buffer.write(header, 8);
    expect(() => decodeSafetensors(buffer, 'w.safetensors')).toThrow(/w\.safetensors: tensor "x" has dtype I64/);
    expect(() => decodeSafetensors(Buffer.alloc(4), 'short.safetensors')).toThrow(/short\.safetensors/);
  });
});
