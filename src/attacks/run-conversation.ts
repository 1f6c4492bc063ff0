/**
 * THE turn loop: attacker → target → judge, for a batch of dialogues in lock-step so that every
 * model call is batched. Keeps the attacker view (thoughts included) and the target view
 * (questions and replies only) apart, judges each reply with the full target-view context, and
 * drops only the dialogue whose attacker cannot produce a well-formed turn (counted, not hidden).
 * A model call that failed after its backend's retries (attacker, target or judge) marks the
 * dialogue errored: the failed turn is not recorded, nothing is scored from it, and the
 * trajectory's stopReason is 'error' so that rates leave it out and report it apart.
 * Dialogues may start from a prefix with a forced first turn: that is how resampling branches.
 */
import { user } from '../core/message.js';
import { ReuseScope, type ChatModel, type Judge, type SamplingOptions } from '../core/models.js';
import type { ObjectiveRef, OracleLabel, Trajectory, Turn } from '../core/trajectory.js';
import { targetMessages, type AttackerAgent, type AttackerProposal, type AttackerView } from './attacker.js';

export interface FirstTurnOverride {
  /** attacker sampling for the first new turn (red-team regeneration temperatures) */
  attackerSampling?: SamplingOptions;
  /** a fixed attacker turn instead of a proposal */
  proposal?: { message: string; thought?: string; question: string };
  /** target sampling for the first new reply */
  targetSampling?: SamplingOptions;
  /** a fixed reply (the target-side safe rewrite) instead of a sample */
  reply?: string;
}

export interface ConversationStart {
  id: string;
  seed: number;
  objective: ObjectiveRef;
  prefix?: readonly Turn[];
  first?: FirstTurnOverride;
}

export interface RunOptions {
  attacker: AttackerAgent;
  target: ChatModel;
  judge: Judge;
  /** dialogues end after this many turns (H) */
  maxTurns: number;
  targetSampling: SamplingOptions;
  /** ground truth for replies where the environment has one */
  oracle?: (reply: string) => OracleLabel;
  /** called after every completed turn of the batch */
  onTurn?: (turn: number, active: number) => void;
  /** the scope the attacker's and target's calls share (a fresh one per call when absent) */
  reuse?: ReuseScope;
}

export const DEFAULT_TARGET_SAMPLING: SamplingOptions = { temperature: 1.0, topP: 0.95, maxTokens: 80 };

interface Live {
  start: ConversationStart;
  turns: Turn[];
  dropped: boolean;
  errored: boolean;
  warnings: string[];
}

export async function runConversations(starts: readonly ConversationStart[], options: RunOptions): Promise<Trajectory[]> {
  const live: Live[] = starts.map((start) => ({ start, turns: [...(start.prefix ?? [])], dropped: false, errored: false, warnings: [] }));
  const prefixLength = new Map(live.map((l) => [l, l.turns.length]));
  // Each turn's prompts repeat the dialogue so far: calls in one scope may reuse its prefill.
  const reuse = options.reuse ?? new ReuseScope();
  for (;;) {
    const active = live.filter((l) => !l.dropped && !l.errored && l.turns.length < options.maxTurns);
    if (active.length === 0) break;
    const isFirst = (l: Live) => l.turns.length === prefixLength.get(l);

    // 1. Attacker turns (forced ones need no call).
    const proposals = new Map<Live, AttackerProposal>();
    const asking = active.filter((l) => !(isFirst(l) && l.start.first?.proposal));
    for (const l of active) {
      const forced = isFirst(l) ? l.start.first?.proposal : undefined;
      if (forced) proposals.set(l, { ok: true, ...forced, attempts: 0, tokens: 0 });
    }
    const views: AttackerView[] = asking.map((l) => ({
      id: l.start.id,
      seed: l.start.seed,
      objective: l.start.objective,
      turns: l.turns,
      sampling: isFirst(l) ? l.start.first?.attackerSampling : undefined,
      reuse,
    }));
    const answers = views.length > 0 ? await options.attacker.propose(views) : [];
    asking.forEach((l, i) => proposals.set(l, answers[i]));
    const speaking: Live[] = [];
    for (const l of active) {
      const proposal = proposals.get(l)!;
      if (proposal.ok) speaking.push(l);
      else if (proposal.errored) {
        l.errored = true;
        l.warnings.push(`turn ${l.turns.length + 1}: attacker ${proposal.reason}`);
      } else {
        l.dropped = true;
        l.warnings.push(
          `turn ${l.turns.length + 1}: attacker produced no well-formed turn in ${proposal.attempts} attempts (${proposal.reason}; last: ${JSON.stringify(proposal.lastMessage.slice(0, 120))})`,
        );
      }
    }

    const questionOf = (l: Live) => (proposals.get(l) as Extract<AttackerProposal, { ok: true }>).question;

    // 2. Target replies on the target view (questions only).
    const replying = speaking.filter((l) => !(isFirst(l) && l.start.first?.reply !== undefined));
    const samplingOf = (l: Live) => (isFirst(l) && l.start.first?.targetSampling) || options.targetSampling;
    const responses = await options.target.generate(
      replying.map((l) => ({
        messages: [...targetMessages(l.turns), user(questionOf(l))],
        sampling: samplingOf(l),
        seed: (l.start.seed * 7919 + l.turns.length * 31 + 17) >>> 0,
        reuse,
      })),
    );
    const replies = new Map<Live, { text: string; tokens: number }>();
    replying.forEach((l, i) => {
      const response = responses[i];
      if (response.finishReason === 'error') {
        l.errored = true;
        l.warnings.push(`turn ${l.turns.length + 1}: target call failed: ${response.error ?? 'unknown error'}`);
      } else replies.set(l, { text: response.text, tokens: response.usage.completionTokens });
    });
    for (const l of speaking) if (!replies.has(l) && !l.errored) replies.set(l, { text: l.start.first!.reply!, tokens: 0 });
    const judged = speaking.filter((l) => !l.errored);

    // 3. Judge every reply with the whole target-view context.
    const judgements = await options.judge.judge(judged.map((l) => targetMessages([...l.turns, { question: questionOf(l), reply: replies.get(l)!.text }])));
    judged.forEach((l, i) => {
      const proposal = proposals.get(l) as Extract<AttackerProposal, { ok: true }>;
      const reply = replies.get(l)!;
      const j = judgements[i];
      if (j.error !== undefined) {
        l.errored = true;
        l.warnings.push(`turn ${l.turns.length + 1}: judge call failed: ${j.error}`);
        return;
      }
      l.turns.push({
        index: l.turns.length + 1,
        attackerMessage: proposal.message,
        thought: proposal.thought,
        question: proposal.question,
        reply: reply.text,
        judgement: { verdict: j.verdict, pUnsafe: j.pUnsafe, pSafe: j.pSafe, ...(j.category ? { category: j.category } : {}) },
        ...(options.oracle ? { oracle: options.oracle(reply.text) } : {}),
        attackerAttempts: proposal.attempts,
        sampling: { ...(proposal.sampling ? { attacker: pickSampling(proposal.sampling) } : {}), target: pickSampling(samplingOf(l)) },
        usage: { attackerTokens: proposal.tokens, targetTokens: reply.tokens },
      });
    });
    options.onTurn?.(Math.max(...active.map((l) => l.turns.length)), judged.filter((l) => !l.errored).length);
  }
  return live.map((l) => ({
    schemaVersion: 1 as const,
    id: l.start.id,
    seed: l.start.seed,
    objective: l.start.objective,
    attackerId: options.attacker.id,
    targetId: options.target.id,
    judgeId: options.judge.id,
    turns: l.turns,
    attackSuccess: !l.errored && l.turns.some((t) => t.judgement.verdict === 'unsafe'),
    ...(options.oracle ? { oracleSuccess: !l.errored && l.turns.some((t) => t.oracle?.unsafe === true) } : {}),
    stopReason: l.errored ? ('error' as const) : l.dropped ? ('format-failure' as const) : ('max-turns' as const),
    warnings: l.warnings,
  }));
}

function pickSampling(s: SamplingOptions): { temperature: number; topP: number; maxTokens: number } {
  return { temperature: s.temperature, topP: s.topP, maxTokens: s.maxTokens };
}

export function objectiveRef(o: { id: string; text: string; kind: ObjectiveRef['kind']; category?: string }): ObjectiveRef {
  return { id: o.id, text: o.text, kind: o.kind, ...(o.category ? { category: o.category } : {}) };
}
