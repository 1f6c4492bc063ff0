/**
 * Stage 1 — thought-guided attack learning (docs/method.md §3): select the top-k Think-before-
 * Attack dialogues with the lowest mutual similarity (or a random k, the ablation), then
 * multi-turn SFT of the attacker with the loss on attacker turns only. The selected set is also
 * the static reference set 𝓡 of the red team's diversity reward.
 */
import { system, type Message } from '../core/message.js';
import type { Embedder, ScoredConversation, TrainablePolicy } from '../core/models.js';
import { attackerSystemPrompt } from '../core/mtsa-prompts.js';
import { Rng } from '../core/rng.js';
import { formatAttackerMessage, parseAttackerTurn } from '../attacks/parse-attacker-turn.js';
import type { ThinkBeforeAttackDialogue } from '../data/schemas.js';
import { supervisedFineTune, type StepMetrics, type TrainSchedule } from '../training/trainers.js';
import { meanCosine } from './diversity.js';

/** Attacker messages as the chosen attacker mode writes them (no-thought drops the thought line). */
export function attackerTurnsFor(dialogue: ThinkBeforeAttackDialogue, mode: 'thought' | 'no-thought'): Message[] {
  let turn = 0;
  return dialogue.messages.map((m) => {
    if (m.role !== 'user') return m;
    turn++;
    if (mode === 'thought') return m;
    const parsed = parseAttackerTurn(m.content, turn, 'no-thought');
    return parsed.ok ? { role: 'user', content: formatAttackerMessage(turn, undefined, parsed.question) } : m;
  });
}

/** The text 𝓡 holds for a dialogue: its attacker messages concatenated without a separator (§6.2). */
export function referenceText(dialogue: ThinkBeforeAttackDialogue, mode: 'thought' | 'no-thought'): string {
  return attackerTurnsFor(dialogue, mode)
    .filter((m) => m.role === 'user')
    .map((m) => m.content)
    .join('');
}

/**
 * Top-k by lowest mean cosine similarity to the other dialogues (embedding of the concatenated
 * attacker messages), or k at random.
 */
export async function selectStage1Data(
  dialogues: readonly ThinkBeforeAttackDialogue[],
  embedder: Embedder,
  options: { topK: number; method: 'lowsim' | 'random'; seed: number; mode: 'thought' | 'no-thought' },
): Promise<ThinkBeforeAttackDialogue[]> {
  const k = Math.min(options.topK, dialogues.length);
  if (options.method === 'random')
    return new Rng(options.seed)
      .fork('stage1-random')
      .shuffle([...dialogues])
      .slice(0, k);
  const vectors = await embedder.embed(dialogues.map((d) => referenceText(d, options.mode)));
  // mean cosine to the *other* dialogues: (Σⱼ cos(vᵢ, vⱼ) − cos(vᵢ, vᵢ)) / (n − 1)
  const similarity = vectors.map((v) => (meanCosine(v, vectors) * vectors.length - dotSelf(v)) / Math.max(1, vectors.length - 1));
  return dialogues
    .map((d, i) => ({ d, s: similarity[i], i }))
    .sort((a, b) => a.s - b.s || a.i - b.i)
    .slice(0, k)
    .map((x) => x.d);
}

function dotSelf(v: Float32Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return s;
}

/** The SFT sequence: system prompt with the goal, the whole dialogue; attacker turns scored. */
export function stage1Example(dialogue: ThinkBeforeAttackDialogue, mode: 'thought' | 'no-thought', maxTurns: number): ScoredConversation {
  // At most H attacker turns and the replies between them (the reference keeps 9 messages for H = 5).
  const turns = attackerTurnsFor(dialogue, mode).slice(0, 2 * maxTurns - 1);
  const messages: Message[] = [system(attackerSystemPrompt(dialogue.goal)), ...turns];
  return { messages, scored: messages.map((m, i) => (m.role === 'user' ? i : -1)).filter((i) => i >= 0) };
}

export async function runStage1(
  policy: TrainablePolicy,
  selected: readonly ThinkBeforeAttackDialogue[],
  options: { mode: 'thought' | 'no-thought'; maxTurns: number; schedule: TrainSchedule; onStep?: (m: StepMetrics, total: number) => void },
): Promise<StepMetrics[]> {
  const data = selected.map((d) => stage1Example(d, options.mode, options.maxTurns));
  return supervisedFineTune(policy, data, options.schedule, options.onStep);
}
