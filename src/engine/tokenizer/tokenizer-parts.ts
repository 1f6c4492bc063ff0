/**
 * What a byte-level BPE tokenizer is made of, as training and the tokenizer.json reader produce it
 * and ByteLevelBpeTokenizer consumes it.
 */

export interface SpecialToken {
  id: number;
  content: string;
}

export interface TokenizerParts {
  /** bytes of every non-special token, indexed by id; undefined for special ids and unused ids */
  bytesById: (Uint8Array | undefined)[];
  /** vocabulary key of every id (byte-level string, or the content for special tokens) */
  tokenStringById: (string | undefined)[];
  specialTokens: SpecialToken[];
  /** [left id, right id, result id] in rank order */
  merges: [number, number, number][];
  /** HF's ignore_merges: a pre-token that is itself in the vocabulary encodes as that one token */
  ignoreMerges: boolean;
}
