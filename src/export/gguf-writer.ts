/**
 * A GGUF version 3 file writer (the container llama.cpp, Ollama and LM Studio load): header,
 * typed key/value metadata, tensor descriptors, then the tensor data, each tensor aligned to
 * `general.alignment` (32). Also the two encodings the export needs besides F32: IEEE half
 * floats (F16) and llama.cpp's Q8_0 blocks (32 values as int8 with one F16 scale).
 *
 * Layout facts (from llama.cpp's gguf-py, see docs/gguf.md): all integers little-endian; strings
 * are a u64 byte length then UTF-8 bytes; a tensor's dimensions are stored fastest-varying first,
 * i.e. reversed relative to the row-major shape; tensor offsets are relative to the start of the
 * data section. Why hand-written: docs/decisions/0011-gguf-writer.md.
 */
import { MtsaError } from '../core/errors.js';

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_ALIGNMENT = 32;

/** Value types of metadata entries. */
export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** Tensor element types this writer produces (ggml's numbering). */
export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q8_0 = 8,
}

export const Q8_0_BLOCK = 32;
/** bytes per Q8_0 block: one f16 scale and 32 int8 values */
export const Q8_0_BLOCK_BYTES = 2 + Q8_0_BLOCK;

export type GgufValue =
  | { type: GgufValueType.STRING; value: string }
  | { type: GgufValueType.UINT32 | GgufValueType.INT32 | GgufValueType.FLOAT32 | GgufValueType.UINT64; value: number }
  | { type: GgufValueType.BOOL; value: boolean }
  | { type: GgufValueType.ARRAY; itemType: GgufValueType.STRING; value: readonly string[] }
  | { type: GgufValueType.ARRAY; itemType: GgufValueType.INT32 | GgufValueType.FLOAT32; value: readonly number[] };

export const gguf = {
  string: (value: string): GgufValue => ({ type: GgufValueType.STRING, value }),
  u32: (value: number): GgufValue => ({ type: GgufValueType.UINT32, value }),
  i32: (value: number): GgufValue => ({ type: GgufValueType.INT32, value }),
  f32: (value: number): GgufValue => ({ type: GgufValueType.FLOAT32, value }),
  bool: (value: boolean): GgufValue => ({ type: GgufValueType.BOOL, value }),
  strings: (value: readonly string[]): GgufValue => ({ type: GgufValueType.ARRAY, itemType: GgufValueType.STRING, value }),
  i32s: (value: readonly number[]): GgufValue => ({ type: GgufValueType.ARRAY, itemType: GgufValueType.INT32, value }),
  f32s: (value: readonly number[]): GgufValue => ({ type: GgufValueType.ARRAY, itemType: GgufValueType.FLOAT32, value }),
};

export interface GgufTensor {
  name: string;
  /** row-major shape, e.g. [rows, columns] for a weight matrix */
  shape: readonly number[];
  type: GgmlType;
  /** the encoded bytes (see encodeTensor) */
  data: Uint8Array;
}

// ---------------------------------------------------------------------------------------------
// Element encodings

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE 754 binary16 bits of `value`, rounded to nearest even (as numpy's astype(float16)). */
export function toHalf(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0); // inf / NaN
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → inf
  if (e <= 0) {
    // subnormal half (or zero): shift the implicit-1 mantissa right, round to nearest even
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = mantissa >>> shift;
    const remainder = mantissa & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    const rounded = remainder > midpoint || (remainder === midpoint && (half & 1) === 1) ? half + 1 : half;
    return sign | rounded;
  }
  const half = (e << 10) | (mantissa >>> 13);
  const remainder = mantissa & 0x1fff;
  // a carry out of the mantissa correctly bumps the exponent (up to inf)
  const rounded = remainder > 0x1000 || (remainder === 0x1000 && (half & 1) === 1) ? half + 1 : half;
  return sign | rounded;
}

/** The number a binary16 bit pattern stands for. */
export function fromHalf(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** ggml's roundf: halves away from zero (numpy's round would go to even). */
function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/**
 * Q8_0 blocks of a row-major matrix whose row length is a multiple of 32: per block the scale
 * d = max|x| / 127 (stored as f16) and q = round(x / d), as ggml's reference quantiser does
 * (the int8 values are computed with the unrounded f32 scale).
 */
export function quantizeQ8_0(values: Float32Array, rowLength: number): Uint8Array {
  if (rowLength % Q8_0_BLOCK !== 0) throw new MtsaError(`Q8_0 needs rows whose length is a multiple of ${Q8_0_BLOCK}; got ${rowLength}`);
  const blocks = values.length / Q8_0_BLOCK;
  const out = new Uint8Array(blocks * Q8_0_BLOCK_BYTES);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const base = b * Q8_0_BLOCK;
    let amax = 0;
    for (let i = 0; i < Q8_0_BLOCK; i++) amax = Math.max(amax, Math.abs(values[base + i]));
    f32Scratch[0] = amax / 127;
    const d = f32Scratch[0];
    f32Scratch[0] = d === 0 ? 0 : 1 / d;
    const inverse = f32Scratch[0];
    const o = b * Q8_0_BLOCK_BYTES;
    view.setUint16(o, toHalf(d), true);
    for (let i = 0; i < Q8_0_BLOCK; i++) {
      f32Scratch[0] = values[base + i] * inverse;
      view.setInt8(o + 2 + i, roundHalfAway(f32Scratch[0]));
    }
  }
  return out;
}

/** The values Q8_0 blocks stand for (what llama.cpp computes with). */
export function dequantizeQ8_0(bytes: Uint8Array): Float32Array {
  const blocks = bytes.length / Q8_0_BLOCK_BYTES;
  const out = new Float32Array(blocks * Q8_0_BLOCK);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < blocks; b++) {
    const d = fromHalf(view.getUint16(b * Q8_0_BLOCK_BYTES, true));
    for (let i = 0; i < Q8_0_BLOCK; i++) out[b * Q8_0_BLOCK + i] = d * view.getInt8(b * Q8_0_BLOCK_BYTES + 2 + i);
  }
  return out;
}

/** Encodes row-major f32 values of `shape` as `type`. */
export function encodeTensor(values: Float32Array, shape: readonly number[], type: GgmlType): Uint8Array {
  if (type === GgmlType.F32) return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  if (type === GgmlType.F16) {
    const out = new Uint16Array(values.length);
    for (let i = 0; i < values.length; i++) out[i] = toHalf(values[i]);
    return new Uint8Array(out.buffer);
  }
  return quantizeQ8_0(values, shape[shape.length - 1]);
}

// ---------------------------------------------------------------------------------------------
// The file

class ByteSink {
  private chunks: Uint8Array[] = [];
  length = 0;
  private readonly encoder = new TextEncoder();

  bytes(data: Uint8Array): void {
    this.chunks.push(data);
    this.length += data.length;
  }
  private fixed(size: number, write: (view: DataView) => void): void {
    const buffer = new Uint8Array(size);
    write(new DataView(buffer.buffer));
    this.bytes(buffer);
  }
  u32(v: number): void {
    this.fixed(4, (d) => d.setUint32(0, v, true));
  }
  i32(v: number): void {
    this.fixed(4, (d) => d.setInt32(0, v, true));
  }
  f32(v: number): void {
    this.fixed(4, (d) => d.setFloat32(0, v, true));
  }
  u64(v: number): void {
    this.fixed(8, (d) => d.setBigUint64(0, BigInt(v), true));
  }
  u8(v: number): void {
    this.fixed(1, (d) => d.setUint8(0, v));
  }
  string(s: string): void {
    const encoded = this.encoder.encode(s);
    this.u64(encoded.length);
    this.bytes(encoded);
  }
  padTo(alignment: number): void {
    const pad = (alignment - (this.length % alignment)) % alignment;
    if (pad > 0) this.bytes(new Uint8Array(pad));
  }
  concat(): Uint8Array {
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
}

function writeScalar(sink: ByteSink, type: GgufValueType, value: number | string | boolean): void {
  if (type === GgufValueType.STRING) sink.string(value as string);
  else if (type === GgufValueType.UINT32) sink.u32(value as number);
  else if (type === GgufValueType.INT32) sink.i32(value as number);
  else if (type === GgufValueType.FLOAT32) sink.f32(value as number);
  else if (type === GgufValueType.UINT64) sink.u64(value as number);
  else if (type === GgufValueType.BOOL) sink.u8(value ? 1 : 0);
  else throw new MtsaError(`GGUF writer: unsupported value type ${type}`);
}

export function expectedTensorBytes(shape: readonly number[], type: GgmlType): number {
  const count = shape.reduce((a, b) => a * b, 1);
  if (type === GgmlType.F32) return count * 4;
  if (type === GgmlType.F16) return count * 2;
  return (count / Q8_0_BLOCK) * Q8_0_BLOCK_BYTES;
}

/** The bytes of a GGUF v3 file with these metadata entries (in order) and tensors (in order). */
export function encodeGguf(metadata: ReadonlyMap<string, GgufValue>, tensors: readonly GgufTensor[]): Uint8Array {
  const sink = new ByteSink();
  sink.u32(GGUF_MAGIC);
  sink.u32(GGUF_VERSION);
  sink.u64(tensors.length);
  sink.u64(metadata.size);
  for (const [key, entry] of metadata) {
    sink.string(key);
    sink.u32(entry.type);
    if (entry.type === GgufValueType.ARRAY) {
      sink.u32(entry.itemType);
      sink.u64(entry.value.length);
      for (const item of entry.value) writeScalar(sink, entry.itemType, item);
    } else {
      writeScalar(sink, entry.type, entry.value);
    }
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const tensor of tensors) {
    const expected = expectedTensorBytes(tensor.shape, tensor.type);
    if (tensor.data.length !== expected)
      throw new MtsaError(`GGUF writer: tensor ${tensor.name} has ${tensor.data.length} bytes, its shape [${tensor.shape}] and type ${GgmlType[tensor.type]} need ${expected}`);
    sink.string(tensor.name);
    sink.u32(tensor.shape.length);
    for (const dim of [...tensor.shape].reverse()) sink.u64(dim);
    sink.u32(tensor.type);
    sink.u64(offset);
    offsets.push(offset);
    offset += Math.ceil(tensor.data.length / GGUF_ALIGNMENT) * GGUF_ALIGNMENT;
  }
  sink.padTo(GGUF_ALIGNMENT);
  for (const tensor of tensors) {
    sink.bytes(tensor.data);
    sink.padTo(GGUF_ALIGNMENT);
  }
  return sink.concat();
}
