/**
 * The seams between MTSA's algorithm and whatever runs the models: a chat model, a safety judge, a
 * helpfulness scorer, an embedder and a trainable policy. The algorithm is written against these
 * only; the arena's own models, an OpenAI-compatible server or an external trainer implement them.
 * All calls are batched (one call, many items) because every backend is faster that way.
 */
import type { Message, Role } from './message.js';

export interface SamplingOptions {
  temperature: number;
  topP: number;
  maxTokens: number;
  /** generation ends before any of these strings (they are not included in the text) */
  stop?: readonly string[];
}

export interface ChatRequest {
  messages: readonly Message[];
  /** the role that speaks next: 'assistant' normally, 'user' for the MTSA attacker */
  generationRole?: Role;
  sampling: SamplingOptions;
  /**
   * Text the reply must begin with: the model continues from it, and the returned text includes
   * it (a "prefill", as in vLLM's continue_final_message). The attacker uses it to pin the
   * turn marker, `Thinking N:`, so a small model cannot lose count of the turns.
   */
  prefill?: string;
  /**
   * Text that follows the reply's first line break, after which the model continues (a prefill in
   * the middle of the reply; the returned text includes it). The attacker uses it for
   * `Attack question N:` after its thought line. Backends without native support emulate it with
   * a second call that prefills everything up to and including this text.
   */
  afterFirstLine?: string;
  /** per-request seed: makes a sample independent of the rest of the batch where supported */
  seed?: number;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

export interface ChatResponse {
  text: string;
  finishReason: 'stop' | 'length' | 'context' | 'error';
  usage: Usage;
  /** set when finishReason is 'error' */
  error?: string;
}

export interface ChatModel {
  readonly id: string;
  generate(requests: readonly ChatRequest[]): Promise<ChatResponse[]>;
}

export type Verdict = 'unsafe' | 'safe' | 'undetermined';

export interface Judgement {
  verdict: Verdict;
  /** P(first answer token is "unsafe"), not renormalised (mtsa-method.md G11) */
  pUnsafe: number;
  pSafe: number;
  /** hazard category code when the judge names one (e.g. "S9") */
  category?: string;
  rationale: string;
  judgeId: string;
}

/** Judges the last assistant message of each conversation, with the whole conversation as context. */
export interface Judge {
  readonly id: string;
  judge(conversations: readonly (readonly Message[])[]): Promise<Judgement[]>;
}

export interface HelpfulnessScorer {
  readonly id: string;
  /** a score in [0, 1] per (request, reply) */
  score(pairs: readonly { request: string; reply: string }[]): Promise<number[]>;
}

export interface Embedder {
  readonly id: string;
  /** unit-length vectors */
  embed(texts: readonly string[]): Promise<Float32Array[]>;
}

/** A conversation some of whose messages are scored (their tokens' log-probs are summed). */
export interface ScoredConversation {
  messages: readonly Message[];
  /** indices of the scored messages */
  scored: readonly number[];
}

export interface SequenceScore {
  /** Σ log π(token) over the scored messages' tokens (content and end-of-turn) */
  logProb: number;
  tokens: number;
}

/**
 * A policy that can be trained. Losses are written as pure functions of sequence log-probs that
 * also return d(loss)/d(log-prob) per sequence; the policy turns those coefficients into parameter
 * gradients. So DPO, the future-reward regression and SFT never touch tensors, and an external
 * GPU trainer can implement the same three calls.
 */
export interface TrainablePolicy extends ChatModel {
  /** log-probs under the current weights, or under the frozen reference snapshot */
  scoreSequences(items: readonly ScoredConversation[], options?: { reference?: boolean }): Promise<SequenceScore[]>;
  /** adds Σᵢ coefficients[i] · ∇θ log π(itemᵢ) to the accumulated gradient */
  accumulateGradients(items: readonly ScoredConversation[], coefficients: readonly number[]): Promise<void>;
  /** one optimiser step on the accumulated gradient (descending), then clears it */
  step(options: { lr: number; maxGradNorm?: number; weightDecay?: number }): Promise<{ gradNorm: number }>;
  /** freezes the current weights as the reference policy */
  snapshotReference(): Promise<void>;
  /** resets optimiser state (a new training run from the current weights) */
  resetOptimizer(): Promise<void>;
  save(dir: string, metadata?: Record<string, unknown>): Promise<void>;
  /** loads weights written by save() (same architecture) */
  restore(dir: string): Promise<void>;
  /** a numeric fingerprint of the weights, to check that training changed them */
  fingerprint(): Promise<number>;
}
