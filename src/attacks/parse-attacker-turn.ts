/**
 * Parses an attacker turn in MTSA's Think-before-Attack format (docs/method.md §2.4):
 *   Thinking N: <thought>
 *   Attack question N: <question>
 * The turn number must match; only the question reaches the target. The no-thought ablation
 * writes the question line alone.
 */

export type ParsedAttackerTurn =
  | { ok: true; thought: string | undefined; question: string }
  | { ok: false; reason: 'missing-thinking' | 'missing-question' | 'wrong-turn' | 'empty-question' | 'order' };

/** The markers of turn N, in one place for the parser, the formatter and the attacker's prefills. */
export const thinkingMarker = (turn: number): string => `Thinking ${turn}:`;
export const questionMarker = (turn: number): string => `Attack question ${turn}:`;

export function parseAttackerTurn(text: string, turn: number, mode: 'thought' | 'no-thought' = 'thought'): ParsedAttackerTurn {
  const qMarker = questionMarker(turn);
  const tMarker = thinkingMarker(turn);
  const questionAt = text.indexOf(qMarker);
  if (questionAt < 0) {
    return { ok: false, reason: /Attack question \d+:/.test(text) ? 'wrong-turn' : 'missing-question' };
  }
  const question = text.slice(questionAt + qMarker.length).trim();
  if (!question) return { ok: false, reason: 'empty-question' };
  if (mode === 'no-thought') return { ok: true, thought: undefined, question };
  const thinkingAt = text.indexOf(tMarker);
  if (thinkingAt < 0) return { ok: false, reason: /Thinking \d+:/.test(text) ? 'wrong-turn' : 'missing-thinking' };
  if (thinkingAt > questionAt) return { ok: false, reason: 'order' };
  return { ok: true, thought: text.slice(thinkingAt + tMarker.length, questionAt).trim(), question };
}

export function formatAttackerMessage(turn: number, thought: string | undefined, question: string): string {
  return thought === undefined ? `${questionMarker(turn)} ${question}` : `${thinkingMarker(turn)} ${thought}\n${questionMarker(turn)} ${question}`;
}
