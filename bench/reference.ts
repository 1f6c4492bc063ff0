/** The reference configuration of engine benchmarks: ~1.05 M parameters. */
export const REFERENCE = { vocabSize: 2048, hiddenSize: 128, intermediateSize: 344, numLayers: 4, numHeads: 4, numKvHeads: 4, seqLen: 128, batch: 16 };

/**
 * Floating-point operations per trained token of a Llama configuration: the forward pass's matrix
 * products (2 FLOPs per multiply-add: q, k, v, o, gate, up, down per layer and the tied output
 * head), causal attention over on average (T+1)/2 earlier positions (QKᵀ and AV), and the backward
 * pass at twice the forward. Norms, RoPE, softmax and the optimiser are left out (a few percent).
 */
export function trainingFlopsPerToken(c: { vocabSize: number; hiddenSize: number; intermediateSize: number; numLayers: number; numHeads: number; numKvHeads: number; seqLen: number }): number {
  const C = c.hiddenSize;
  const kvWidth = (C / c.numHeads) * c.numKvHeads;
  const projections = 2 * (2 * C * C + 2 * C * kvWidth + 3 * C * c.intermediateSize);
  const attention = 2 * 2 * C * ((c.seqLen + 1) / 2);
  const forward = c.numLayers * (projections + attention) + 2 * C * c.vocabSize;
  return 3 * forward;
}
