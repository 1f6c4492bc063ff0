/**
 * How a scored conversation becomes token ids and a 0/1 mask of scored tokens, for every trainer
 * (the engine's LocalPolicy and the PyTorch worker's TorchPolicy): the chat template's rendering,
 * the scored messages' content and closing <|end|>, and the end kept when it is too long.
 */
import type { ScoredConversation } from '../core/models.js';
import type { ChatTemplate } from './chat-template.js';

export interface EncodedScored {
  ids: number[];
  mask: number[];
  /** scored tokens that survive truncation */
  tokens: number;
}

export function encodeScored(template: ChatTemplate, item: ScoredConversation, maxPositions: number): EncodedScored {
  const { ids, spans } = template.render(item.messages);
  const mask = new Array<number>(ids.length).fill(0);
  let tokens = 0;
  for (const index of item.scored) {
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
