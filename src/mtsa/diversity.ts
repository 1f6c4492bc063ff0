/**
 * The red team's diversity terms (docs/method.md §6.2): mean cosine similarity and mean self-BLEU
 * of an attacker message against the static reference set 𝓡 (the Stage-1 SFT dialogues). Pure.
 * BLEU follows NLTK's sentence_bleu with one reference, uniform weights over 1..n-grams, brevity
 * penalty, and smoothing "method1" (ε = 0.1 added to zero precision counts).
 */

/** Word tokens in the spirit of nltk.word_tokenize: words, numbers, and each punctuation mark. */
export function wordTokens(text: string): string[] {
  return text.match(/[\p{L}\p{N}]+(?:['’][\p{L}]+)?|[^\s\p{L}\p{N}]/gu) ?? [];
}

export interface NgramIndex {
  length: number;
  /** counts per order n = 1..maxOrder */
  counts: Map<string, number>[];
}

export function ngramIndex(tokens: readonly string[], maxOrder = 5): NgramIndex {
  const counts: Map<string, number>[] = [];
  for (let n = 1; n <= maxOrder; n++) {
    const map = new Map<string, number>();
    for (let i = 0; i + n <= tokens.length; i++) {
      const key = tokens.slice(i, i + n).join('\u0001');
      map.set(key, (map.get(key) ?? 0) + 1);
    }
    counts.push(map);
  }
  return { length: tokens.length, counts };
}

/** BLEU-n of a hypothesis against one reference (weights 1/n for orders 1..n). */
export function bleu(hypothesis: NgramIndex, reference: NgramIndex, order: number, epsilon = 0.1): number {
  if (hypothesis.length === 0) return 0;
  let logSum = 0;
  for (let n = 1; n <= order; n++) {
    const hyp = hypothesis.counts[n - 1];
    const ref = reference.counts[n - 1];
    let matched = 0;
    let total = 0;
    for (const [gram, count] of hyp) {
      total += count;
      matched += Math.min(count, ref.get(gram) ?? 0);
    }
    const precision = matched > 0 ? matched / total : epsilon / Math.max(1, total);
    logSum += Math.log(precision) / order;
  }
  const c = hypothesis.length;
  const r = reference.length;
  const brevity = c > r ? 1 : Math.exp(1 - r / c);
  return brevity * Math.exp(logSum);
}

/** ¼ Σₙ₌₂..₅ BLEUₙ(x | ρ), the reference code's self-BLEU of one pair. */
export function selfBleuPair(hypothesis: NgramIndex, reference: NgramIndex): number {
  let s = 0;
  for (let n = 2; n <= 5; n++) s += bleu(hypothesis, reference, n);
  return s / 4;
}

/** Mean self-BLEU of `text` against every reference. */
export function meanSelfBleu(text: string, references: readonly NgramIndex[]): number {
  if (references.length === 0) return 0;
  const hypothesis = ngramIndex(wordTokens(text));
  let s = 0;
  for (const reference of references) s += selfBleuPair(hypothesis, reference);
  return s / references.length;
}

/** Mean cosine between a unit vector and a set of unit vectors. */
export function meanCosine(vector: Float32Array, references: readonly Float32Array[]): number {
  if (references.length === 0) return 0;
  let s = 0;
  for (const r of references) {
    let dot = 0;
    for (let i = 0; i < vector.length; i++) dot += vector[i] * r[i];
    s += dot;
  }
  return s / references.length;
}
