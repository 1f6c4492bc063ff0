/**
 * The safetensors format (Hugging Face): u64 little-endian header length, a JSON header naming
 * each tensor's dtype, shape and byte range, then the raw little-endian data. Written as F32;
 * F32, F16 and BF16 are read (and widened to float32) so real checkpoints can be loaded too.
 */
import { ConfigError } from '../../core/errors.js';

export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

const ALIGN = 8;

export function encodeSafetensors(tensors: Map<string, NamedTensor>, metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt', ...metadata } };
  let offset = 0;
  const names = [...tensors.keys()].sort();
  for (const name of names) {
    const t = tensors.get(name)!;
    const bytes = t.data.length * 4;
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
  json += ' '.repeat((ALIGN - ((8 + Buffer.byteLength(json)) % ALIGN)) % ALIGN);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let position = 8 + headerBytes.length;
  for (const name of names) {
    const { data } = tensors.get(name)!;
    Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(out, position);
    position += data.byteLength;
  }
  return out;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * Math.pow(2, -14) * (fraction / 1024);
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * Math.pow(2, exponent - 15) * (1 + fraction / 1024);
}

/** Decodes a safetensors buffer; `source` names the file in error messages. */
export function decodeSafetensors(buffer: Buffer, source = 'safetensors'): { tensors: Map<string, NamedTensor>; metadata: Record<string, string> } {
  if (buffer.length < 8) throw new ConfigError(`${source}: file is ${buffer.length} bytes, too short for a safetensors header`);
  const headerLength = Number(buffer.readBigUInt64LE(0));
  if (8 + headerLength > buffer.length) throw new ConfigError(`${source}: header length ${headerLength} exceeds the file size ${buffer.length}`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try {
    header = JSON.parse(buffer.subarray(8, 8 + headerLength).toString('utf8'));
  } catch (error) {
    throw new ConfigError(`${source}: header is not valid JSON (${(error as Error).message})`);
  }
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, NamedTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const count = shape.reduce((a, b) => a * b, 1);
    const [begin, end] = offsets ?? [];
    if (!Array.isArray(shape) || !Number.isInteger(begin) || !Number.isInteger(end) || dataStart + end > buffer.length || begin > end) {
      throw new ConfigError(`${source}: tensor "${name}" has an invalid shape or data_offsets`);
    }
    const bytes = buffer.subarray(dataStart + begin, dataStart + end);
    const data = new Float32Array(count);
    const width = dtype === 'F32' ? 4 : dtype === 'F16' || dtype === 'BF16' ? 2 : 0;
    if (!width) throw new ConfigError(`${source}: tensor "${name}" has dtype ${dtype}; supported: F32, F16, BF16`);
    if (bytes.length !== count * width) throw new ConfigError(`${source}: tensor "${name}" holds ${bytes.length} bytes, its shape [${shape}] needs ${count * width}`);
    if (dtype === 'F32') for (let i = 0; i < count; i++) data[i] = bytes.readFloatLE(i * 4);
    else if (dtype === 'F16') for (let i = 0; i < count; i++) data[i] = halfToFloat(bytes.readUInt16LE(i * 2));
    else {
      const word = new Uint32Array(1);
      const asFloat = new Float32Array(word.buffer);
      for (let i = 0; i < count; i++) {
        word[0] = bytes.readUInt16LE(i * 2) << 16;
        data[i] = asFloat[0];
      }
    }
    tensors.set(name, { shape, data });
  }
  return { tensors, metadata };
}
