/**
 * The safetensors format (Hugging Face): u64 little-endian header length, a JSON header naming
 * each tensor's dtype, shape and byte range, then the raw little-endian data. Written as F32;
 * F32, F16 and BF16 are read (and widened to float32) so real checkpoints can be loaded too.
 */
import { ConfigError, NumericalError } from '../../core/errors.js';

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
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** The header's limit in the reference implementation (safetensors refuses larger headers). */
export const MAX_HEADER_BYTES = 100_000_000;

const WIDTH: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };

export interface TensorEntry {
  name: string;
  dtype: 'F32' | 'F16' | 'BF16';
  shape: number[];
  /** byte range inside the data section */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  tensors: TensorEntry[];
  metadata: Record<string, string>;
  /** byte offset of the data section in the file */
  dataStart: number;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads and validates the header only, allocating nothing in proportion to what it claims: every
 * shape entry a non-negative integer, every byte range exactly dtype × shape, inside the file, and
 * the ranges contiguous (as the reference implementation requires).
 */
export function readSafetensorsHeader(buffer: Buffer, source = 'safetensors'): SafetensorsHeader {
  const bad = (what: string) => new ConfigError(`${source}: ${what}; the file is not a valid safetensors checkpoint (re-save or re-download it)`);
  if (buffer.length < 8) throw bad(`file is ${buffer.length} bytes, too short for a safetensors header`);
  const declared = buffer.readBigUInt64LE(0);
  if (declared > BigInt(Math.min(MAX_HEADER_BYTES, buffer.length - 8)))
    throw bad(`header length ${declared} exceeds ${buffer.length - 8 < MAX_HEADER_BYTES ? `the file size ${buffer.length}` : `the limit of ${MAX_HEADER_BYTES} bytes`}`);
  const headerLength = Number(declared);
  let header: unknown;
  try {
    header = JSON.parse(buffer.subarray(8, 8 + headerLength).toString('utf8'));
  } catch (error) {
    throw bad(`header is not valid JSON (${(error as Error).message})`);
  }
  if (!isRecord(header)) throw bad('header is not a JSON object');
  const dataStart = 8 + headerLength;
  const dataBytes = buffer.length - dataStart;
  const tensors: TensorEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isRecord(entry) || Object.values(entry).some((v) => typeof v !== 'string')) throw bad('__metadata__ must map names to strings');
      metadata = entry as Record<string, string>;
      continue;
    }
    if (!isRecord(entry)) throw bad(`tensor "${name}" is not an object`);
    const { dtype, shape, data_offsets: offsets } = entry;
    if (typeof dtype !== 'string' || !Object.hasOwn(WIDTH, dtype)) throw bad(`tensor "${name}" has dtype ${typeof dtype === 'string' ? dtype : JSON.stringify(dtype)}; supported: F32, F16, BF16`);
    if (!Array.isArray(shape) || shape.length > 8 || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      throw bad(`tensor "${name}" has shape ${JSON.stringify(shape)}; a shape is a list of at most 8 non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)) {
      throw bad(`tensor "${name}" has data_offsets ${JSON.stringify(offsets)}; expected [begin, end], non-negative integers`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > dataBytes) throw bad(`tensor "${name}" has data_offsets [${begin}, ${end}] outside the ${dataBytes} data bytes of the file`);
    // The element count, bounded by the bytes actually present before it can overflow.
    const width = WIDTH[dtype];
    let count = 1;
    for (const d of shape as number[]) {
      count *= d;
      if (count * width > dataBytes) throw bad(`tensor "${name}" has shape [${shape}], larger than the file's ${dataBytes} data bytes`);
    }
    if (end - begin !== count * width) throw bad(`tensor "${name}" holds ${end - begin} bytes, its shape [${shape}] of ${dtype} needs ${count * width}`);
    tensors.push({ name, dtype: dtype as TensorEntry['dtype'], shape: shape as number[], begin, end });
  }
  const sorted = [...tensors].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let position = 0;
  for (const t of sorted) {
    if (t.begin !== position) throw bad(`tensor "${t.name}" starts at byte ${t.begin}, expected ${position} (tensors must be contiguous and must not overlap)`);
    position = t.end;
  }
  if (position !== dataBytes) throw bad(`the tensors cover ${position} of the ${dataBytes} data bytes`);
  return { tensors, metadata, dataStart };
}

/** Index and value of the first non-finite entry, or -1. */
export function firstNonFinite(data: Float32Array): number {
  // A sum of squares is cheap and non-finite as soon as any entry is (or overflows); scan only then.
  let s = 0;
  for (let i = 0; i < data.length; i++) s += data[i] * data[i];
  if (Number.isFinite(s)) return -1;
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return i;
  return -1;
}

/**
 * Decodes a safetensors buffer; `source` names the file in error messages. The header is validated
 * before anything is allocated, and every tensor is checked to be finite.
 */
export function decodeSafetensors(buffer: Buffer, source = 'safetensors', options: { only?: ReadonlySet<string> } = {}): { tensors: Map<string, NamedTensor>; metadata: Record<string, string> } {
  const header = readSafetensorsHeader(buffer, source);
  const tensors = new Map<string, NamedTensor>();
  for (const { name, dtype, shape, begin, end } of header.tensors) {
    if (options.only && !options.only.has(name)) continue;
    const bytes = buffer.subarray(header.dataStart + begin, header.dataStart + end);
    const count = (end - begin) / WIDTH[dtype];
    const data = new Float32Array(count);
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
    const broken = firstNonFinite(data);
    if (broken >= 0) {
      throw new NumericalError(
        `${source}: tensor "${name}" holds a non-finite value (${data[broken]} at index ${broken}); the weights are corrupt or come from a diverged training step: delete this checkpoint and recompute it`,
      );
    }
    tensors.set(name, { shape, data });
  }
  return { tensors, metadata: header.metadata };
}
