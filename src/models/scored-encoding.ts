/**
 * How a scored conversation becomes token ids and a 0/1 mask of scored tokens, for every trainer
 * (the engine's LocalPolicy and the PyTorch worker's TorchPolicy): the chat template's rendering,
 * the scored messages' content and closing <|end|>, and the end kept when it is too long.
 */
import type { Message } from '../core/message.js';
import type { ScoredConversation } from '../core/models.js';
import type { ChatTemplate } from './chat-template.js';

export interface EncodedScored {
  ids: number[];
  mask: number[];
  /** scored tokens that survive truncation */
  tokens: number;
}

/**
 * The one context rule, shared by generation and scoring: drop the oldest non-system message, one
 * at a time, while `length(kept)` exceeds `limit` and more than `keepLast` droppable messages are left.
 */
export function fitMessages(messages: readonly Message[], length: (kept: readonly Message[]) => number, limit: number, keepLast = 1): Message[] {
  let kept = [...messages];
  while (length(kept) > limit && kept.length > 1) {
    const first = kept[0].role === 'system' ? 1 : 0;
    if (kept.length - first <= keepLast) break;
    kept = [...kept.slice(0, first), ...kept.slice(first + 1)];
  }
  return kept;
}

/**
 * Prompt tokens for generation: the context rule (`fitMessages`) leaving `reserve` positions for the
 * reply; a prompt still too long is cut from the left. Every trainer's sampler uses it.
 */
export function promptTokens(template: ChatTemplate, messages: readonly Message[], generationRole: Message['role'], maxPositions: number, reserve: number): number[] {
  const limit = maxPositions - reserve;
  const ids = template.render(
    fitMessages(messages, (kept) => template.render(kept, generationRole).ids.length, limit),
    generationRole,
  ).ids;
  return ids.length > limit ? ids.slice(ids.length - limit) : ids;
}

/** the reserve generation leaves for a reply sampled with `maxTokens` after `prefill` */
export function replyReserve(template: ChatTemplate, maxPositions: number, maxTokens: number, prefill?: string): number {
  const capped = Math.max(1, Math.min(maxTokens, maxPositions - 8));
  return capped + (prefill ? template.encodeContent(prefill).length : 0);
}

/**
 * Token ids and the scored mask. A conversation longer than the model fits its context the way
 * generation did (the system prompt kept, the oldest turns dropped, the reply's reserve left), so
 * chosen and rejected continuations are scored in the context they were sampled in; whatever is
 * still too long is cut from the left.
 */
export function encodeScored(template: ChatTemplate, item: ScoredConversation, maxPositions: number): EncodedScored {
  const limit = maxPositions;
  const firstScored = Math.min(...item.scored);
  let messages: readonly Message[] = item.messages;
  let scored = item.scored;
  if (Number.isFinite(firstScored) && firstScored > 0 && template.render(item.messages).ids.length > limit) {
    const prompt = item.messages.slice(0, firstScored);
    const rest = item.messages.slice(firstScored);
    const role = rest[0].role;
    const restLength = template.render(rest).ids.length;
    const reserve = item.generatedWith ? Math.max(restLength - 1, replyReserve(template, maxPositions, item.generatedWith.maxTokens, item.generatedWith.prefill)) : restLength - 1;
    // the prompt rendered with the reply's role token opened, as generation renders it
    const kept = fitMessages(prompt, (k) => template.render(k, role).ids.length, limit - reserve);
    messages = [...kept, ...rest];
    scored = item.scored.map((i) => i - (prompt.length - kept.length));
  }
  const { ids, spans } = template.render(messages);
  const mask = new Array<number>(ids.length).fill(0);
  let tokens = 0;
  for (const index of scored) {
    const span = spans[index];
    for (let t = span.start; t < span.end; t++) mask[t] = 1;
    tokens += span.end - span.start;
  }
  if (ids.length <= maxPositions) return { ids, mask, tokens };
  // Keep the end (where scored turns usually are); count only the scored tokens that survive.
  const cut = ids.length - maxPositions;
  const kept = mask.slice(cut);
  return { ids: ids.slice(cut), mask: kept, tokens: kept.reduce((a, b) => a + b, 0) };
}
