/**
 * Multi-turn files:
 * - Stage-1 dialogues (JSONL): the Think-before-Attack records Stage 1 trains on — `target` (the
 *   goal) and `red_conv` (or `red_team_conv`): attacker turns as `user` messages in the
 *   `Thinking N: … / Attack question N: …` format, target replies as `assistant`. Every attacker
 *   turn is checked with the attack parser (turn numbers included).
 * - CoSafe-style multi-turn sets (JSONL): each line a list of {role, content} messages
 *   alternating from a user turn and ending with a user turn (CoSafe: 5 messages). They become a
 *   fixed attacker: its questions are the file's user turns, the target answers each for real.
 */
import { basename, extname } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../../core/errors.js';
import { MessageSchema, type Message } from '../../core/message.js';
import { parseAttackerTurn } from '../../attacks/parse-attacker-turn.js';
import { ThinkBeforeAttackSchema, type ThinkBeforeAttackDialogue } from '../schemas.js';
import { readJsonl } from './read.js';

export function loadStage1Dialogues(path: string, mode: 'thought' | 'no-thought' = 'thought'): ThinkBeforeAttackDialogue[] {
  return readJsonl(path, ThinkBeforeAttackSchema, 'Stage-1 dialogues').map(({ line, value }) => {
    let turn = 0;
    value.messages.forEach((m, i) => {
      const expected = i % 2 === 0 ? 'user' : 'assistant';
      if (m.role !== expected)
        throw new ConfigError(`${path}:${line}: field "red_conv.${i}.role": expected ${expected} (attacker turns are user, target replies assistant, alternating from the attacker), got ${m.role}`);
      if (m.role !== 'user') return;
      turn++;
      const parsed = parseAttackerTurn(m.content, turn, mode);
      if (!parsed.ok)
        throw new ConfigError(`${path}:${line}: field "red_conv.${i}.content": attacker turn ${turn} is not in the "Thinking ${turn}: … / Attack question ${turn}: …" format (${parsed.reason})`);
    });
    if (turn === 0) throw new ConfigError(`${path}:${line}: field "red_conv": no attacker turn`);
    return value;
  });
}

export interface ScriptedDialogue {
  id: string;
  /** the user turns, in order: the fixed attacker's questions */
  questions: string[];
  /** the file's own assistant turns (not sent: the target answers for itself) */
  scriptedReplies: string[];
  category?: string;
  origin: string;
}

const CoSafeLineSchema = z.union([
  z.array(MessageSchema).min(1),
  z.object({ messages: z.array(MessageSchema).min(1), id: z.union([z.string(), z.number()]).optional(), category: z.string().optional() }),
]);

/** A CoSafe-style file; the category defaults to the file name (CoSafe ships one file per category). */
export function loadMultiTurnSet(path: string, category = basename(path, extname(path))): ScriptedDialogue[] {
  return readJsonl(path, CoSafeLineSchema, 'multi-turn attack set').map(({ line, value }) => {
    const messages: Message[] = Array.isArray(value) ? value : value.messages;
    messages.forEach((m, i) => {
      const expected = i % 2 === 0 ? 'user' : 'assistant';
      if (m.role !== expected) throw new ConfigError(`${path}:${line}: field "${i}.role": expected ${expected} (turns alternate from a user turn), got ${m.role}`);
      if (m.content.trim() === '') throw new ConfigError(`${path}:${line}: field "${i}.content": empty message`);
    });
    if (messages[messages.length - 1].role !== 'user') throw new ConfigError(`${path}:${line}: the dialogue must end with a user turn (the question the target answers last)`);
    const id = !Array.isArray(value) && value.id !== undefined ? String(value.id) : `${category}-${line}`;
    return {
      id,
      questions: messages.filter((m) => m.role === 'user').map((m) => m.content),
      scriptedReplies: messages.filter((m) => m.role === 'assistant').map((m) => m.content),
      ...(!Array.isArray(value) && value.category ? { category: value.category } : { category }),
      origin: `${path}:${line}`,
    };
  });
}
