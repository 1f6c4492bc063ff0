/** The reference configuration of engine benchmarks (engine-measurements.md): ~1.05 M parameters. */
export const REFERENCE = { vocabSize: 2048, hiddenSize: 128, intermediateSize: 344, numLayers: 4, numHeads: 4, numKvHeads: 4, seqLen: 128, batch: 16 };
