/**
 * The arena's models behind the project's seams: the target and attacker as trainable chat
 * policies, the guard as a Llama-Guard-style judge, the helpfulness scorer, the embedder, the
 * oracle as a judge (for evaluation), and scripted attackers as attacker agents.
 */
import { system, user, type Message } from '../core/message.js';
import type { Judge, Judgement } from '../core/models.js';
import { Rng, hashString } from '../core/rng.js';
import type { OracleLabel } from '../core/trajectory.js';
import type { AttackerAgent, AttackerProposal, AttackerView } from '../attacks/attacker.js';
import { formatAttackerMessage } from '../attacks/parse-attacker-turn.js';
import { loadCheckpoint } from '../engine/checkpoint/hf-checkpoint.js';
import { ChatTemplate } from '../models/chat-template.js';
import { LocalPolicy } from '../models/local/local-policy.js';
import { ClassifierHelpfulnessScorer, ClassifierJudge, MeanPoolEmbedder } from '../models/local/local-scorers.js';
import type { ArenaBuild } from './build.js';
import { GUARD_INSTRUCTION, HELPFULNESS_INSTRUCTION, guardTranscript } from './corpora.js';
import { labelReply } from './oracle.js';
import { renderQuestion, renderThought, type Move } from './phrasing.js';
import { initialState, updateState, type AttackerPolicy, type DialogueState } from './scripted.js';

export function oracleLabel(reply: string): OracleLabel {
  const label = labelReply(reply);
  return { unsafe: label.unsafe, kind: label.kind };
}

/** Keeps the newest turns of a conversation whose rendering fits `limit` tokens. */
function fitConversation(template: ChatTemplate, conversation: readonly Message[], render: (c: readonly Message[]) => Message[], limit: number): Message[] {
  let kept = [...conversation];
  let messages = render(kept);
  while (template.render(messages, 'assistant').ids.length + 4 > limit && kept.length > 2) {
    kept = kept.slice(2);
    messages = render(kept);
  }
  return messages;
}

/** `prefixCacheBytes`: LocalModelOptions' bound on prefix reuse (0 turns it off; default 256 MiB). */
export function loadPolicy(dir: string, id: string, seed: number, maxBatch = 64, prefixCacheBytes?: number): LocalPolicy {
  const { model, tokenizer } = loadCheckpoint(dir);
  return new LocalPolicy(model, tokenizer, { id, seed, maxBatch, ...(prefixCacheBytes !== undefined ? { prefixCacheBytes } : {}) });
}

export function loadGuard(build: { checkpoints: Pick<ArenaBuild['checkpoints'], 'guard'> }): ClassifierJudge {
  return loadGuardCheckpoint(build.checkpoints.guard, 'arena:guard');
}

/** The arena guard's prompt for a conversation: its instruction, then the transcript window (the guard answers `safe` or `unsafe S2`). */
export function guardPrompt(conversation: readonly Message[]): Message[] {
  return [system(GUARD_INSTRUCTION), user(guardTranscript(conversation))];
}

/** A guard checkpoint in the arena's prompt format (the arena guard, or one trained like it), in-process. */
export function loadGuardCheckpoint(dir: string, id: string): ClassifierJudge {
  const { model, tokenizer } = loadCheckpoint(dir);
  const template = new ChatTemplate(tokenizer);
  return new ClassifierJudge(model, tokenizer, {
    id,
    formatPrompt: (conversation) => fitConversation(template, conversation, guardPrompt, model.config.maxPositions),
  });
}

export function loadHelpfulness(build: ArenaBuild): ClassifierHelpfulnessScorer {
  const { model, tokenizer } = loadCheckpoint(build.checkpoints.helpfulness);
  return new ClassifierHelpfulnessScorer(model, tokenizer, {
    id: 'arena:helpfulness',
    formatPrompt: (request, reply) => [system(HELPFULNESS_INSTRUCTION), user(`Request: ${request}\nReply: ${reply}`)],
  });
}

export function loadEmbedder(build: ArenaBuild): MeanPoolEmbedder {
  const { model, tokenizer } = loadCheckpoint(build.checkpoints.embedder);
  return new MeanPoolEmbedder('arena:embedder', model, tokenizer);
}

/** The oracle as a judge: exact, for evaluation beside the learned guard. */
export class OracleJudge implements Judge {
  readonly id = 'arena:oracle';
  async judge(conversations: readonly (readonly Message[])[]): Promise<Judgement[]> {
    return conversations.map((c) => {
      const unsafe = labelReply(c[c.length - 1]?.content ?? '').unsafe;
      return { verdict: unsafe ? 'unsafe' : 'safe', pUnsafe: unsafe ? 1 : 0, pSafe: unsafe ? 0 : 1, rationale: 'oracle', judgeId: this.id };
    });
  }
}

/**
 * A scripted attacker (one strategy, the thought-guided mixture, or crescendo) as an attacker
 * agent: it reads the learned target's replies through the oracle and picks its next move.
 */
export class ScriptedAttacker implements AttackerAgent {
  private readonly dialogues = new Map<string, { policy: AttackerPolicy; state: DialogueState; last: Move | null; seen: number; rng: Rng }>();

  constructor(
    readonly id: string,
    private readonly makePolicy: () => AttackerPolicy,
    private readonly withThoughts = true,
  ) {}

  async propose(views: readonly AttackerView[]): Promise<AttackerProposal[]> {
    return views.map((view) => {
      let d = this.dialogues.get(view.id);
      if (!d) {
        d = { policy: this.makePolicy(), state: initialState(), last: null, seen: 0, rng: new Rng(hashString(view.id, view.seed)) };
        this.dialogues.set(view.id, d);
      }
      for (; d.seen < view.turns.length; d.seen++) updateState(d.state, d.seen === view.turns.length - 1 ? d.last : null, view.turns[d.seen].reply);
      const turn = view.turns.length + 1;
      const move = d.policy.next(d.state, turn - 1, d.rng);
      const changed = d.last !== null && d.last.strategy !== move.strategy;
      const thought = this.withThoughts ? renderThought(d.state.last, move, d.state.revealed, changed, d.rng) : undefined;
      const question = renderQuestion(move, view.objective.text, d.rng, d.state.crescendoProbes);
      d.last = move;
      return { ok: true as const, message: formatAttackerMessage(turn, thought, question), thought, question, attempts: 1, tokens: 0 };
    });
  }
}
