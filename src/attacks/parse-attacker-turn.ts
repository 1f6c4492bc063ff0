/**
 * Parses an attacker turn in MTSA's Think-before-Attack format (mtsa-method.md §2.4):
 *   Thinking N: <thought>
 *   Attack question N: <question>
 * The turn number must match; only the question reaches the target. The no-thought ablation
 * writes the question line alone.
 */

export type ParsedAttackerTurn =
  | { ok: true; thought: string | undefined; question: string }
  | { ok: false; reason: 'missing-thinking' | 'missing-question' | 'wrong-turn' | 'empty-question' | 'order' };

export function parseAttackerTurn(text: string, turn: number, mode: 'thought' | 'no-thought' = 'thought'): ParsedAttackerTurn {
  const questionMarker = `Attack question ${turn}:`;
  const thinkingMarker = `Thinking ${turn}:`;
  const questionAt = text.indexOf(questionMarker);
  if (questionAt < 0) {
    return { ok: false, reason: /Attack question \d+:/.test(text) ? 'wrong-turn' : 'missing-question' };
  }
  const question = text.slice(questionAt + questionMarker.length).trim();
  if (!question) return { ok: false, reason: 'empty-question' };
  if (mode === 'no-thought') return { ok: true, thought: undefined, question };
  const thinkingAt = text.indexOf(thinkingMarker);
  if (thinkingAt < 0) return { ok: false, reason: /Thinking \d+:/.test(text) ? 'wrong-turn' : 'missing-thinking' };
  if (thinkingAt > questionAt) return { ok: false, reason: 'order' };
  return { ok: true, thought: text.slice(thinkingAt + thinkingMarker.length, questionAt).trim(), question };
}

export function formatAttackerMessage(turn: number, thought: string | undefined, question: string): string {
  return thought === undefined ? `Attack question ${turn}: ${question}` : `Thinking ${turn}: ${thought}\nAttack question ${turn}: ${question}`;
}
