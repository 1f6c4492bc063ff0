/**
 * The portable TypeScript versions of the layer kernels (norms, rotary positions, token log-probs,
 * attention, residual adds, AdamW): the loops the ops ran before they moved behind the kernel
 * interface, unchanged, so the `js` kernels keep their results. Attention runs its products and
 * softmax through the given base kernels.
 */
import type { Kernels } from './kernels.js';

type Base = Pick<Kernels, 'sgemm' | 'causalSoftmax' | 'softmaxRows'>;
type LayerKernels = Omit<Kernels, 'name' | 'sgemm' | 'causalSoftmax' | 'softmaxRows' | 'swigluForward' | 'swigluBackward' | 'attendCached'>;

export function jsLayerKernels(base: Base): LayerKernels {
  return {
    rmsNormForward(x, w, y, inv, rows, cols, eps) {
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        let ss = 0;
        for (let c = 0; c < cols; c++) ss += x[o + c] * x[o + c];
        const s = 1 / Math.sqrt(ss / cols + eps);
        inv[r] = s;
        for (let c = 0; c < cols; c++) y[o + c] = x[o + c] * s * w[c];
      }
    },
    rmsNormBackward(g, x, w, inv, gx, gw, rows, cols) {
      if (gw) {
        for (let r = 0; r < rows; r++) {
          const o = r * cols;
          const s = inv[r];
          for (let c = 0; c < cols; c++) gw[c] += g[o + c] * x[o + c] * s;
        }
      }
      if (gx) {
        for (let r = 0; r < rows; r++) {
          const o = r * cols;
          const s = inv[r];
          // dx = s·(w∘g) − s³/C · x · Σ(w∘g∘x)
          let dot = 0;
          for (let c = 0; c < cols; c++) dot += w[c] * g[o + c] * x[o + c];
          const k = (s * s * s * dot) / cols;
          for (let c = 0; c < cols; c++) gx[o + c] += s * w[c] * g[o + c] - k * x[o + c];
        }
      }
    },
    rope(input, output, rows, heads, headDim, positions, cos, sin, inverse) {
      const half = headDim / 2;
      const sign = inverse ? -1 : 1;
      const width = heads * headDim;
      for (let r = 0; r < rows; r++) {
        const t = Math.max(0, positions[r]) * half;
        for (let h = 0; h < heads; h++) {
          const o = r * width + h * headDim;
          for (let i = 0; i < half; i++) {
            const c = cos[t + i];
            const s = sign * sin[t + i];
            const a = input[o + i];
            const b = input[o + i + half];
            // [a, b] → [a·cos − b·sin, b·cos + a·sin]
            output[o + i] = a * c - b * s;
            output[o + i + half] = b * c + a * s;
          }
        }
      }
    },
    tokenLogProbs(logits, probs, targets, out, rows, vocab) {
      probs.set(logits.subarray(0, rows * vocab));
      const lse = new Float32Array(rows);
      base.softmaxRows(probs, 0, rows, vocab, lse);
      for (let r = 0; r < rows; r++) {
        const t = targets[r];
        out[r] = t < 0 ? 0 : logits[r * vocab + t] - lse[r];
      }
    },
    tokenLogProbsBackward(g, probs, targets, gx, rows, vocab, overwrite) {
      for (let r = 0; r < rows; r++) {
        const t = targets[r];
        const gr = g[r];
        const o = r * vocab;
        if (t < 0 || gr === 0) {
          if (overwrite) gx.fill(0, o, o + vocab);
          continue;
        }
        if (overwrite) for (let c = 0; c < vocab; c++) gx[o + c] = -(gr * probs[o + c]);
        else for (let c = 0; c < vocab; c++) gx[o + c] -= gr * probs[o + c];
        gx[o + t] += gr;
      }
    },
    attentionForward(q, k, v, probs, out, dims, keyStart, scale) {
      const { batch: B, seqLen: T, heads: H, kvHeads: KV, headDim: D } = dims;
      const group = H / KV;
      const ldq = H * D;
      const ldk = KV * D;
      const TT = T * T;
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < H; h++) {
          const kOff = b * T * ldk + Math.floor(h / group) * D;
          base.sgemm(false, true, T, T, D, scale, q, b * T * ldq + h * D, ldq, k, kOff, ldk, 0, probs, (b * H + h) * TT, T);
        }
        base.causalSoftmax(probs, b * H * TT, H, T, keyStart ? keyStart[b] : 0);
        for (let h = 0; h < H; h++) {
          const kOff = b * T * ldk + Math.floor(h / group) * D;
          base.sgemm(false, false, T, D, T, 1, probs, (b * H + h) * TT, T, v, kOff, ldk, 0, out, b * T * ldq + h * D, ldq);
        }
      }
    },
    attentionBackward(g, q, k, v, probs, dq, dk, dv, dims, keyStart, scale) {
      const { batch: B, seqLen: T, heads: H, kvHeads: KV, headDim: D } = dims;
      const group = H / KV;
      const ldq = H * D;
      const ldk = KV * D;
      const TT = T * T;
      const dp = new Float32Array(TT);
      for (let b = 0; b < B; b++) {
        const start = keyStart ? keyStart[b] : 0;
        for (let h = 0; h < H; h++) {
          const qOff = b * T * ldq + h * D;
          const kOff = b * T * ldk + Math.floor(h / group) * D;
          const pOff = (b * H + h) * TT;
          if (dv) base.sgemm(true, false, T, D, T, 1, probs, pOff, T, g, qOff, ldq, 1, dv, kOff, ldk);
          if (!dq && !dk) continue;
          base.sgemm(false, true, T, T, D, 1, g, qOff, ldq, v, kOff, ldk, 0, dp, 0, T);
          // dS = P∘(dP − rowsum(dP∘P)), written over dp; masked entries have P = 0 and stay 0.
          for (let t = 0; t < T; t++) {
            const row = t * T;
            const pRow = pOff + row;
            if (t < start) {
              dp.fill(0, row, row + T);
              continue;
            }
            let dot = 0;
            for (let j = start; j <= t; j++) dot += dp[row + j] * probs[pRow + j];
            for (let j = start; j <= t; j++) dp[row + j] = probs[pRow + j] * (dp[row + j] - dot);
            if (start > 0) dp.fill(0, row, row + start);
            dp.fill(0, row + t + 1, row + T);
          }
          if (dq) base.sgemm(false, false, T, D, T, scale, dp, 0, T, k, kOff, ldk, 1, dq, qOff, ldq);
          if (dk) base.sgemm(true, false, T, D, T, scale, dp, 0, T, q, qOff, ldq, 1, dk, kOff, ldk);
        }
      }
    },
    add(a, b, out, n) {
      for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
    },
    scatterAddRows(source, indices, target, rows, cols) {
      for (let r = 0; r < rows; r++) {
        const o = indices[r] * cols;
        const s = r * cols;
        for (let c = 0; c < cols; c++) target[o + c] += source[s + c];
      }
    },
    sumSquares(x, n) {
      let s = 0;
      for (let i = 0; i < n; i++) s += x[i] * x[i];
      return s;
    },
    adamw(w, g, m, v, n, step) {
      const { clip, beta1, beta2, stepSize, correction2, eps, decay } = step;
      for (let i = 0; i < n; i++) {
        const gi = g[i] * clip;
        const mi = beta1 * m[i] + (1 - beta1) * gi;
        const vi = beta2 * v[i] + (1 - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] = w[i] * decay - (stepSize * mi) / (Math.sqrt(vi / correction2) + eps);
      }
      g.fill(0, 0, n);
    },
  };
}
