/**
 * Rotary position embedding in the Hugging Face convention (`rotate_half`: dimension i pairs with
 * i + D/2 inside each head), so that checkpoints load in transformers with identical logits.
 * (llama.cpp's GGUF expects adjacent pairs; a GGUF export must permute Q/K rows.)
 */
import { assert } from '../../core/errors.js';
import { kernels } from '../kernels/index.js';
import { allocateUninitialized } from '../memory.js';
import { Tensor, addInto, record } from '../tensor.js';

const tables = new Map<string, { cos: Float32Array; sin: Float32Array; length: number }>();

/** cos/sin of position·θ^(−2i/D), (positions, D/2), cached and grown on demand. */
export function ropeTable(headDim: number, theta: number, positions: number): { cos: Float32Array; sin: Float32Array } {
  const key = `${headDim}:${theta}`;
  const cached = tables.get(key);
  if (cached && cached.length >= positions) return cached;
  const length = Math.max(positions, (cached?.length ?? 0) * 2, 64);
  const half = headDim / 2;
  const cos = new Float32Array(length * half);
  const sin = new Float32Array(length * half);
  for (let p = 0; p < length; p++) {
    for (let i = 0; i < half; i++) {
      const frequency = 1 / theta ** ((2 * i) / headDim);
      const angle = p * frequency;
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  const table = { cos, sin, length };
  tables.set(key, table);
  return table;
}

/**
 * Rotates every head of input (rows, heads·headDim) by its row's position into output (which may
 * be input). positions[r] is the absolute position of row r (left padding gives shifted positions).
 */
export function applyRope(input: Float32Array, output: Float32Array, rows: number, heads: number, headDim: number, positions: Int32Array, theta: number, inverse = false): void {
  let maxPosition = 0;
  for (let r = 0; r < rows; r++) if (positions[r] > maxPosition) maxPosition = positions[r];
  const { cos, sin } = ropeTable(headDim, theta, maxPosition + 1);
  // [a, b] → [a·cos − b·sin, b·cos + a·sin] for each pair (i, i + headDim/2) of every head
  kernels().rope(input, output, rows, heads, headDim, positions, cos, sin, inverse);
}

export function rope(x: Tensor, heads: number, positions: Int32Array, theta: number): Tensor {
  const rows = x.rows;
  const headDim = x.cols / heads;
  assert(Number.isInteger(headDim) && headDim % 2 === 0, () => `rope: ${x.cols} features do not split into ${heads} heads of even size`);
  assert(positions.length === rows, () => `rope: ${positions.length} positions for ${rows} rows`);
  const out = Tensor.empty(x.shape);
  applyRope(x.data, out.data, rows, heads, headDim, positions, theta);
  record([x], out, () => {
    if (!out.grad) return;
    // The rotation is orthogonal, so its backward is the inverse rotation of the gradient. When x
    // has no gradient yet (the usual case: x is a fresh projection) rotate straight into it.
    if (!x.grad && !x.persistent) {
      const g = out.grad;
      out.grad = null;
      applyRope(g, g, rows, heads, headDim, positions, theta, true);
      x.grad = g;
      return;
    }
    const g = allocateUninitialized(out.grad.length);
    applyRope(out.grad, g, rows, heads, headDim, positions, theta, true);
    addInto(x.gradBuffer(), g);
  });
  return out;
}
