/**
 * Benchmark: prefix reuse across the turns of a dialogue batch. An evaluation-like workload — a
 * batch of dialogues, 5 turns, an attacker and a target of the arena's default sizes, batches of
 * at most 64 sorted by prompt length as LocalChatModel makes them — sampled once without reuse
 * and once with a PrefixStore per model, in the same process. Weights are random and prompts are
 * token ids: each attacker prompt is its goal (a system prompt of `--system` tokens) and the
 * dialogue so far, each target prompt the questions and replies so far; the attacker writes
 * `--attacker-tokens`, the target replies `--reply-tokens`, the question is the message's last
 * `--question-tokens`. The replies are fed back as sampled (no re-encoding), so every earlier turn
 * matches: an upper bound of what a real dialogue reuses (see `docs/prefix-reuse.md`).
 * Prints one JSON line: {"bench":"dialogue","no_reuse_s":…,"reuse_s":…,"speedup":…,…}
 */
import { Rng } from '../src/core/rng.js';
import { generate, type GenerationResult, type SamplingSettings } from '../src/engine/generate.js';
import { kernels, kernelChoice, useKernels } from '../src/engine/kernels/index.js';
import { LlamaModel, defaultLlamaConfig, type TokenBatch } from '../src/engine/nn/llama.js';
import { PrefixStore } from '../src/engine/prefix-store.js';

useKernels(kernelChoice(process.env.MTSA_KERNELS));

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

const DIALOGUES = option('dialogues', 108); // the default arena's 54 held-out objectives × 2 repeats
const TURNS = option('turns', 5);
const SYSTEM = option('system', 60);
const ATTACKER_TOKENS = option('attacker-tokens', 48);
const QUESTION_TOKENS = option('question-tokens', 24);
const REPLY_TOKENS = option('reply-tokens', 40);
const VOCAB = 1024;
const MAX_BATCH = 64;
const END = 1;

// The default arena's attacker and target (src/arena/config.ts).
const attackerModel = new LlamaModel(defaultLlamaConfig({ vocabSize: VOCAB, hiddenSize: 128, numLayers: 2, numHeads: 4, numKvHeads: 4, intermediateSize: 384, maxPositions: 640 }), new Rng(1));
const targetModel = new LlamaModel(defaultLlamaConfig({ vocabSize: VOCAB, hiddenSize: 128, numLayers: 2, numHeads: 4, numKvHeads: 4, intermediateSize: 384, maxPositions: 512 }), new Rng(2));

/** Prefilled positions (batch × new positions of every call with more than one) per model, and the seconds those calls took. */
const prefilled = new Map<LlamaModel, number>();
let prefillSeconds = 0;
for (const model of [attackerModel, targetModel]) {
  const forward = model.forwardHidden.bind(model);
  model.forwardHidden = (batch: TokenBatch, ...rest) => {
    if (batch.seqLen === 1) return forward(batch, ...rest);
    prefilled.set(model, (prefilled.get(model) ?? 0) + batch.batch * batch.seqLen);
    const started = performance.now();
    const out = forward(batch, ...rest);
    prefillSeconds += (performance.now() - started) / 1000;
    return out;
  };
}

/** Samples every prompt as LocalChatModel does: sorted by positions left to prefill, then length, in batches of at most 64. */
function sampleAll(model: LlamaModel, prompts: number[][], maxNewTokens: number, seeds: number[], store: PrefixStore | undefined): number[][] {
  const uncached = prompts.map((p) => p.length - (store?.reusable(p, p.length - 1) ?? 0));
  const order = prompts.map((_, i) => i).sort((a, b) => uncached[a] - uncached[b] || prompts[a].length - prompts[b].length || a - b);
  const out: number[][] = new Array(prompts.length);
  const settings: SamplingSettings = { temperature: 1, topP: 0.95, maxNewTokens, stopTokenIds: [] };
  for (let i = 0; i < order.length; i += MAX_BATCH) {
    const batch = order.slice(i, i + MAX_BATCH);
    const results: GenerationResult[] = generate(
      model,
      batch.map((j) => prompts[j]),
      { padId: 0, settings, rng: batch.map((j) => new Rng(seeds[j])), prefixes: store },
    );
    batch.forEach((j, k) => (out[j] = results[k].tokens));
  }
  return out;
}

function run(reuse: boolean): { seconds: number; prefillSeconds: number; replies: number[][]; prefilled: { attacker: number; target: number }; heldBytes: number } {
  prefilled.clear();
  prefillSeconds = 0;
  const stores = reuse ? [new PrefixStore(attackerModel, 256 * 2 ** 20), new PrefixStore(targetModel, 256 * 2 ** 20)] : [undefined, undefined];
  const goals = new Rng(3);
  const attackerViews = Array.from({ length: DIALOGUES }, () => Array.from({ length: SYSTEM }, () => 2 + goals.int(VOCAB - 2)));
  const targetViews: number[][] = Array.from({ length: DIALOGUES }, () => []);
  const replies: number[][] = [];
  const started = performance.now();
  for (let turn = 0; turn < TURNS; turn++) {
    const seeds = attackerViews.map((_, d) => 1000 * d + turn);
    const messages = sampleAll(attackerModel, attackerViews, ATTACKER_TOKENS, seeds, stores[0]);
    messages.forEach((m, d) => targetViews[d].push(...m.slice(-QUESTION_TOKENS), END));
    const answers = sampleAll(targetModel, targetViews, REPLY_TOKENS, seeds, stores[1]);
    answers.forEach((a, d) => {
      targetViews[d].push(...a, END);
      attackerViews[d].push(...messages[d], END, ...a, END);
    });
    replies.push(...answers);
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    seconds,
    prefillSeconds,
    replies,
    prefilled: { attacker: prefilled.get(attackerModel) ?? 0, target: prefilled.get(targetModel) ?? 0 },
    heldBytes: stores.reduce((n, s) => n + (s?.heldBytes ?? 0), 0),
  };
}

run(false); // warm-up (buffer pools, RoPE tables)
// Alternating order, best of two each: a machine shared with other work slows whichever runs then.
const plain = [run(false)];
const reused = [run(true)];
reused.push(run(true));
plain.push(run(false));
const best = (runs: ReturnType<typeof run>[]) => Math.min(...runs.map((r) => r.seconds));
const identical = plain[0].replies.every((r, i) => r.length === reused[0].replies[i].length && r.every((t, k) => t === reused[0].replies[i][k]));
const differing = plain[0].replies.filter((r, i) => r.some((t, k) => t !== reused[0].replies[i][k])).length;
console.log(
  JSON.stringify({
    bench: 'dialogue',
    no_reuse_s: Number(best(plain).toFixed(2)),
    reuse_s: Number(best(reused).toFixed(2)),
    speedup: Number((best(plain) / best(reused)).toFixed(3)),
    prefill_s_no_reuse: Number(plain[0].prefillSeconds.toFixed(2)),
    prefill_s_reuse: Number(reused[0].prefillSeconds.toFixed(2)),
    prefilled_no_reuse: plain[0].prefilled,
    prefilled_reuse: reused[0].prefilled,
    identical_replies: identical,
    replies_differing: differing,
    replies: plain[0].replies.length,
    store_mib: Number((reused[0].heldBytes / 2 ** 20).toFixed(1)),
    dialogues: DIALOGUES,
    turns: TURNS,
    kernels: kernels().name,
  }),
);
