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
  /** return this many top log-probs of the first generated token (judges that read verdict probabilities) */
  topLogprobs?: number;
  /**
   * Requests carrying the same scope may reuse each other's work: an in-process backend keeps the
   * key/value rows of the sequences it finished in the scope and prefills only what a new prompt
   * does not share with one of them (a dialogue's next turn re-sends its whole history). Backends
   * without such a cache ignore it.
   */
  reuse?: ReuseScope;
}

/**
 * What model calls may share, and for how long: one batch of dialogues (runConversations makes one
 * per call). A backend's state lives in the scope, never in the backend, so a result depends only
 * on the calls made in its own scope — not on which worker thread ran what before, nor on whether
 * earlier steps were computed or resumed from disk — and the state is dropped with the scope.
 */
export class ReuseScope {
  private readonly states = new WeakMap<object, unknown>();

  /** `owner`'s state in this scope, made by `make` on first use */
  stateOf<T>(owner: object, make: () => T): T {
    if (!this.states.has(owner)) this.states.set(owner, make());
    return this.states.get(owner) as T;
  }
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
  /** the most likely first generated tokens and their log-probs, when the request asked for them */
  firstTokenLogprobs?: TokenLogprob[];
}

export interface TokenLogprob {
  /** the token's text as the backend decodes it */
  token: string;
  logprob: number;
}

export interface ChatModel {
  readonly id: string;
  generate(requests: readonly ChatRequest[]): Promise<ChatResponse[]>;
}

/** A raw-prompt request: the caller has rendered the model's own template (judges, our checkpoints). */
export interface CompletionRequest {
  prompt: string;
  sampling: SamplingOptions;
  seed?: number;
  topLogprobs?: number;
}

/** A model that continues raw prompts (OpenAI `/v1/completions`, llama.cpp, our engine). */
export interface CompletionModel {
  readonly id: string;
  complete(requests: readonly CompletionRequest[]): Promise<ChatResponse[]>;
}

export type Verdict = 'unsafe' | 'safe' | 'undetermined';

export interface Judgement {
  verdict: Verdict;
  /** P(first answer token is "unsafe"), not renormalised (docs/method.md G11) */
  pUnsafe: number;
  pSafe: number;
  /** hazard category code when the judge names one (e.g. "S9") */
  category?: string;
  rationale: string;
  judgeId: string;
  /** set when the judge's call failed: the verdict is meaningless and the dialogue is marked errored */
  error?: string;
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
  /**
   * How the scored reply was generated (its sampling maxTokens and prefill): a backend with a short
   * context then keeps the context generation kept (it drops the same oldest turns), so chosen and
   * rejected of a pair, given the same value, are scored in one context. Absent: the scored reply's
   * own length is reserved.
   */
  generatedWith?: { maxTokens: number; prefill?: string };
}

export interface SequenceScore {
  /** Σ log π(token) over the scored messages' tokens (content and end-of-turn) */
  logProb: number;
  tokens: number;
}

export interface StepOptions {
  lr: number;
  maxGradNorm?: number;
  weightDecay?: number;
}

/** A loss over the sequence log-probs of one training step: its value, d(loss)/d(log-prob) per sequence, metrics. */
export interface SequenceLossResult {
  loss: number;
  /** d(loss)/d(log πᵢ), one per scored sequence, in the order of the items */
  gradients: readonly number[];
  metrics: Record<string, number>;
}

/**
 * A pure function of the current weights' sequence scores (log-probs and token counts). Reference
 * log-probs and rewards are closed over, so the policy never needs to know which loss it trains.
 */
export type SequenceLoss = (scores: readonly SequenceScore[]) => SequenceLossResult;

export interface TrainStepResult {
  /** the scores under the weights before the step (the ones the loss saw) */
  scores: SequenceScore[];
  result: SequenceLossResult;
  /** gradient norm before clipping */
  gradNorm: number;
}

/**
 * A policy that can be trained. Losses are written as pure functions of sequence log-probs that
 * also return d(loss)/d(log-prob) per sequence; the policy turns those coefficients into parameter
 * gradients. So DPO, the future-reward regression and SFT never touch tensors, and an external
 * GPU trainer (the PyTorch worker) implements the same calls.
 */
export interface TrainablePolicy extends ChatModel {
  /** log-probs under the current weights, or under the frozen reference snapshot (no gradients) */
  scoreSequences(items: readonly ScoredConversation[], options?: { reference?: boolean }): Promise<SequenceScore[]>;
  /**
   * One optimiser step in one forward pass: score `items` under the current weights keeping the
   * graph, evaluate `lossOf` on those scores, back-propagate Σᵢ gradientsᵢ · ∇θ log πᵢ, clip, and
   * step (descending). An implementation must not run a second forward for the backward.
   */
  trainStep(items: readonly ScoredConversation[], lossOf: SequenceLoss, options: StepOptions): Promise<TrainStepResult>;
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
