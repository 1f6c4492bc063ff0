/**
 * Crafted checkpoints: every malformed safetensors header or config.json is refused with an error
 * naming the file, before anything is allocated in proportion to what the file claims; non-finite
 * weights are refused at load.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, NumericalError } from '../../core/errors.js';
import { tinyModel, tinyTokenizer } from '../../testing/tiny.js';
import { CONFIG_BOUNDS, fromHfConfig, llamaParameterShapes, loadCheckpoint, saveCheckpoint, toHfConfig } from './hf-checkpoint.js';
import { decodeSafetensors, encodeSafetensors, readSafetensorsHeader } from './safetensors.js';

function file(header: Record<string, unknown>, dataBytes: number): Buffer {
  const json = JSON.stringify(header);
  const buffer = Buffer.alloc(8 + Buffer.byteLength(json) + dataBytes);
  buffer.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  buffer.write(json, 8);
  return buffer;
}

const tensor = (shape: unknown, offsets: unknown, dtype = 'F32') => ({ dtype, shape, data_offsets: offsets });

describe('safetensors header validation', () => {
  const cases: [string, Buffer, RegExp][] = [
    ['negative shape', file({ w: tensor([-4, 2], [0, 32]) }, 32), /shape \[-4,2\]; a shape is a list of at most 8 non-negative integers/],
    ['string shape', file({ w: tensor(['8'], [0, 32]) }, 32), /shape \["8"\]/],
    ['fractional shape', file({ w: tensor([2.5], [0, 10]) }, 10), /shape \[2\.5\]/],
    ['huge shape', file({ w: tensor([1e9, 1e9], [0, 16]) }, 16), /larger than the file's 16 data bytes/],
    ['shape × dtype ≠ byte range', file({ w: tensor([3], [0, 16]) }, 16), /holds 16 bytes, its shape \[3\] of F32 needs 12/],
    ['range outside the file', file({ w: tensor([4], [0, 16]) }, 8), /data_offsets \[0, 16\] outside the 8 data bytes/],
    ['inverted range', file({ w: tensor([0], [8, 0]) }, 8), /data_offsets \[8, 0\] outside/],
    ['overlapping tensors', file({ a: tensor([2], [0, 8]), b: tensor([2], [4, 12]) }, 12), /must not overlap/],
    ['bytes not covered', file({ a: tensor([1], [0, 4]) }, 12), /cover 4 of the 12 data bytes/],
    ['missing offsets', file({ a: { dtype: 'F32', shape: [1] } }, 4), /data_offsets undefined/],
    ['header not an object', file([1, 2] as unknown as Record<string, unknown>, 0), /header is not a JSON object/],
    ['metadata not strings', file({ __metadata__: { a: 1 } }, 0), /__metadata__ must map names to strings/],
  ];
  for (const [name, buffer, message] of cases) {
    it(`refuses a ${name}, naming the file`, () => {
      expect(() => decodeSafetensors(buffer, 'crafted.safetensors')).toThrow(ConfigError);
      expect(() => decodeSafetensors(buffer, 'crafted.safetensors')).toThrow(message);
      expect(() => decodeSafetensors(buffer, 'crafted.safetensors')).toThrow(/^crafted\.safetensors: /);
    });
  }

  it('refuses a header length beyond the file or the 100 MB limit', () => {
    const buffer = Buffer.alloc(16);
    buffer.writeBigUInt64LE(2n ** 63n);
    expect(() => readSafetensorsHeader(buffer, 'x')).toThrow(/header length 9223372036854775808 exceeds the file size 16/);
  });

  it('refuses non-finite weights, naming the tensor and the index', () => {
    const bytes = encodeSafetensors(new Map([['w', { shape: [3], data: Float32Array.of(1, NaN, 2) }]]));
    expect(() => decodeSafetensors(bytes, 'nan.safetensors')).toThrow(NumericalError);
    expect(() => decodeSafetensors(bytes, 'nan.safetensors')).toThrow(/nan\.safetensors: tensor "w" holds a non-finite value \(NaN at index 1\)/);
    const inf = encodeSafetensors(new Map([['w', { shape: [2], data: Float32Array.of(Infinity, 0) }]]));
    expect(() => decodeSafetensors(inf, 'inf.safetensors')).toThrow(/Infinity at index 0/);
  });

  it('accepts what the encoder writes, including empty and zero-sized tensors', () => {
    const bytes = encodeSafetensors(
      new Map([
        ['a', { shape: [0, 4], data: new Float32Array(0) }],
        ['b', { shape: [], data: Float32Array.of(3) }],
      ]),
    );
    const { tensors } = decodeSafetensors(bytes);
    expect(tensors.get('a')!.data.length).toBe(0);
    expect(Array.from(tensors.get('b')!.data)).toEqual([3]);
  });
});

describe('config.json validation', () => {
  const tokenizer = tinyTokenizer(['hello there', 'general kenobi'], 280);
  const base = toHfConfig(tinyModel(1, { vocabSize: tokenizer.vocabSize }).config, tokenizer);

  it('refuses counts above sane bounds before building anything', () => {
    expect(() => fromHfConfig({ ...base, num_hidden_layers: 100000 }, 'c.json')).toThrow(/c\.json: field "num_hidden_layers"/);
    expect(() => fromHfConfig({ ...base, vocab_size: 2e9 }, 'c.json')).toThrow(/c\.json: field "vocab_size"/);
    expect(() => fromHfConfig({ ...base, hidden_size: 30, num_attention_heads: 4 }, 'c.json')).toThrow(/must be an even integer head size/);
    expect(() => fromHfConfig({ ...base, num_key_value_heads: 3 }, 'c.json')).toThrow(/not a multiple of num_key_value_heads 3/);
    expect(CONFIG_BOUNDS.vocab_size).toBeGreaterThanOrEqual(262_144); // real vocabularies still load
  });

  it("parameter shapes implied by a config are exactly the model's", () => {
    for (const tie of [true, false]) {
      const model = tinyModel(2, { vocabSize: 80, tieWordEmbeddings: tie });
      expect(new Map([...model.params].map(([n, t]) => [n, [...t.shape]]))).toEqual(llamaParameterShapes(model.config));
    }
  });

  it('a config.json that disagrees with the tensor header is refused before the model is allocated', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'mtsa-crafted-')), 'model');
    saveCheckpoint(dir, { model: tinyModel(1, { vocabSize: tokenizer.vocabSize }), tokenizer, metadata: {} });
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    // 1000 layers would allocate ~1000× the model if built first; the header check comes first.
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, num_hidden_layers: 1000 }));
    expect(() => loadCheckpoint(dir)).toThrow(/tensor "model\.layers\.2\.input_layernorm\.weight" is missing \(config\.json in .* describes a different model\)/);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, vocab_size: 2e9 }));
    expect(() => loadCheckpoint(dir)).toThrow(/config\.json: field "vocab_size"/);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, vocab_size: config.vocab_size + 1 }));
    expect(() => loadCheckpoint(dir)).toThrow(/tensor "model\.embed_tokens\.weight" has shape \[\d+,16\], config\.json implies/);
    writeFileSync(join(dir, 'config.json'), '{"model_type": "llama", ');
    expect(() => loadCheckpoint(dir)).toThrow(/config\.json: not readable JSON/);
  });

  it('a garbage tokenizer.json names its path', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'mtsa-crafted-')), 'model');
    saveCheckpoint(dir, { model: tinyModel(1, { vocabSize: tokenizer.vocabSize }), tokenizer, metadata: {} });
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ model: { type: 'WordPiece' } }));
    expect(() => loadCheckpoint(dir)).toThrow(new RegExp(`${join(dir, 'tokenizer.json').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: tokenizer.json model.type must be "BPE"`));
    const path = join(dir, 'tokenizer.json');
    const { merges: _, ...modelWithoutMerges } = tokenizer.toJSON().model as Record<string, unknown>;
    writeFileSync(path, JSON.stringify({ ...tokenizer.toJSON(), model: modelWithoutMerges }));
    expect(() => loadCheckpoint(dir)).toThrow(`${path}: tokenizer.json model.merges must be an array of "left right" strings or [left, right] pairs, got undefined`);
    writeFileSync(join(dir, 'tokenizer.json'), 'garbage');
    expect(() => loadCheckpoint(dir)).toThrow(/tokenizer\.json: not readable JSON/);
  });
});
