/**
 * Attackers: anything that, given the dialogue so far, proposes the next attacker turn. The MTSA
 * red team is an LLM that thinks, then asks (`LlmAttacker`); scripted attackers (the arena's
 * strategies, crescendo) implement the same interface so the runner treats them alike.
 */
import { system, user, assistant, type Message } from '../core/message.js';
import type { ChatModel, ChatRequest, ReuseScope, SamplingOptions } from '../core/models.js';
import { attackerSystemPrompt } from '../core/mtsa-prompts.js';
import type { ObjectiveRef, Turn } from '../core/trajectory.js';
import { formatAttackerMessage, parseAttackerTurn, questionMarker, thinkingMarker } from './parse-attacker-turn.js';

export interface AttackerView {
  /** dialogue id (stable across turns) */
  id: string;
  seed: number;
  objective: ObjectiveRef;
  turns: readonly Turn[];
  /** sampling override for this proposal (red-team resampling temperatures) */
  sampling?: SamplingOptions;
  /** the dialogue batch's reuse scope, for the attacker's model calls */
  reuse?: ReuseScope;
}

export type AttackerProposal =
  | { ok: true; message: string; thought?: string; question: string; attempts: number; tokens: number; sampling?: SamplingOptions }
  | { ok: false; attempts: number; tokens: number; lastMessage: string; reason: string /** the model call failed (not the format): the dialogue is errored */; errored?: boolean };

export interface AttackerAgent {
  readonly id: string;
  /** proposes turn views[i].turns.length + 1 for every view */
  propose(views: readonly AttackerView[]): Promise<AttackerProposal[]>;
}

/** Attacker view (§2.2): system prompt with the goal, full attacker messages, target replies. */
export function attackerMessages(goal: string, turns: readonly Pick<Turn, 'attackerMessage' | 'reply'>[]): Message[] {
  return [system(attackerSystemPrompt(goal)), ...turns.flatMap((t) => [user(t.attackerMessage), assistant(t.reply)])];
}

/** Target view (§2.2): questions and replies only — no goal, no thoughts, no system prompt. */
export function targetMessages(turns: readonly Pick<Turn, 'question' | 'reply'>[]): Message[] {
  return turns.flatMap((t) => [user(t.question), assistant(t.reply)]);
}

export const DEFAULT_ATTACKER_SAMPLING: SamplingOptions = { temperature: 1.0, topP: 0.95, maxTokens: 96 };

export interface LlmAttackerOptions {
  id: string;
  /** 'no-thought' is the ablation whose turns are the question line alone */
  mode: 'thought' | 'no-thought';
  /** generations per turn before the item is dropped (the reference code: 1 + 3 retries) */
  maxAttempts: number;
  sampling: SamplingOptions;
  /**
   * Prefill each turn's markers (`Thinking N:` and `Attack question N:`), so the model writes the
   * thought and the question but never the turn numbers. Default on: without it, the arena's
   * small attacker miscounts after three turns (measured: 51 of 128 dialogues dropped in
   * iteration 1 of the default run; prefilling `Thinking N:` alone still dropped 16, the question
   * line then carrying the wrong number).
   */
  prefillMarker?: boolean;
}

/** The MTSA red team: speaks as the user, writes "Thinking N" then "Attack question N". */
export class LlmAttacker implements AttackerAgent {
  readonly id: string;

  constructor(
    readonly model: ChatModel,
    readonly options: LlmAttackerOptions,
  ) {
    this.id = options.id;
  }

  async propose(views: readonly AttackerView[]): Promise<AttackerProposal[]> {
    const results: AttackerProposal[] = views.map(() => ({ ok: false, attempts: 0, tokens: 0, lastMessage: '', reason: 'not-tried' }));
    let pending = views.map((_, i) => i);
    for (let attempt = 1; attempt <= this.options.maxAttempts && pending.length > 0; attempt++) {
      const requests = pending.map((i): ChatRequest => {
        const view = views[i];
        return {
          messages: attackerMessages(view.objective.text, view.turns),
          generationRole: 'user',
          sampling: view.sampling ?? this.options.sampling,
          seed: (view.seed * 1000003 + view.turns.length * 101 + attempt) >>> 0,
          ...(view.reuse ? { reuse: view.reuse } : {}),
        };
      });
      const samples = await this.sample(
        requests,
        pending.map((i) => views[i].turns.length + 1),
      );
      const next: number[] = [];
      pending.forEach((i, k) => {
        const { text, completionTokens, error } = samples[k];
        const turn = views[i].turns.length + 1;
        const tokens = results[i].tokens + completionTokens;
        if (error !== undefined) {
          // A failed call is not a format failure: no retry here (the backend already retried).
          results[i] = { ok: false, attempts: attempt, tokens, lastMessage: '', reason: `model call failed: ${error}`, errored: true };
          return;
        }
        const parsed = parseAttackerTurn(text, turn, this.options.mode);
        if (parsed.ok) {
          // Store the canonical form: exactly what a well-formed turn looks like in the attacker view.
          const message = formatAttackerMessage(turn, parsed.thought, parsed.question);
          results[i] = { ok: true, message, thought: parsed.thought, question: parsed.question, attempts: attempt, tokens, sampling: requests[k].sampling };
        } else {
          results[i] = { ok: false, attempts: attempt, tokens, lastMessage: text, reason: parsed.reason };
          next.push(i);
        }
      });
      pending = next;
    }
    return results;
  }

  /**
   * One attacker message per request. With marker prefills, `Thinking N:` begins the reply and
   * `Attack question N:` follows its first line break, so the model writes every word of the
   * thought and the question and none of the numbering, in one pass.
   */
  private async sample(requests: readonly ChatRequest[], turns: readonly number[]): Promise<{ text: string; completionTokens: number; error?: string }[]> {
    const prefilled = requests.map((r, k): ChatRequest => {
      if (this.options.prefillMarker === false) return r;
      if (this.options.mode === 'no-thought') return { ...r, prefill: questionMarker(turns[k]) };
      return { ...r, prefill: thinkingMarker(turns[k]), afterFirstLine: questionMarker(turns[k]) };
    });
    const responses = await this.model.generate(prefilled);
    return responses.map((r) => ({ text: r.text, completionTokens: r.usage.completionTokens, ...(r.finishReason === 'error' ? { error: r.error ?? 'unknown error' } : {}) }));
  }
}
