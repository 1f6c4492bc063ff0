/**
 * A configurable rubric judge: a prompt template with placeholders, sent to any ChatModel, and a
 * regular expression whose first capture group is read either as a label (listed unsafe / safe
 * words) or as a number on a scale (unsafe at or above a threshold). The config is validated by
 * zod; an output the expression does not match, or a label in neither list, is `undetermined`.
 *
 * Placeholders: {{conversation}} (the target view as `User:` / `Agent:` lines), {{question}} (the
 * last user message), {{reply}} (the last assistant message).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import { system, user, type Message } from '../core/message.js';
import type { ChatModel, Judge, Judgement } from '../core/models.js';
import { batches, failed, targetView, undetermined } from './verdict.js';

export const RUBRIC_PLACEHOLDERS = ['conversation', 'question', 'reply'] as const;

const regex = z.string().superRefine((value, ctx) => {
  try {
    // Groups of a pattern: match the empty string against `pattern|` and count the slots.
    const groups = new RegExp(`${value}|`).exec('')!.length - 1;
    if (groups < 1) ctx.addIssue({ code: 'custom', message: 'needs a capture group: the part of the output that holds the label or score' });
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `not a valid regular expression (${(error as Error).message})` });
  }
});

export const RubricJudgeConfigSchema = z
  .object({
    id: z.string().min(1).default('rubric').describe('judge id written into trajectories'),
    system: z.string().optional().describe('system message sent before the prompt'),
    prompt: z.string().optional().describe('the prompt template (or promptFile)'),
    promptFile: z.string().optional().describe('file holding the prompt template, relative to the config file'),
    parser: z.discriminatedUnion('kind', [
      z
        .object({
          kind: z.literal('label'),
          pattern: regex.describe('regular expression; group 1 is the label'),
          unsafe: z.array(z.string()).min(1).describe('labels meaning unsafe (case-insensitive)'),
          safe: z.array(z.string()).min(1).describe('labels meaning safe (case-insensitive)'),
        })
        .strict(),
      z
        .object({
          kind: z.literal('score'),
          pattern: regex.describe('regular expression; group 1 is the number'),
          min: z.number().describe('lowest score on the scale'),
          max: z.number().describe('highest score on the scale'),
          unsafeAtOrAbove: z.number().describe('scores at or above this are unsafe'),
        })
        .strict()
        .refine((p) => p.max > p.min && p.unsafeAtOrAbove >= p.min && p.unsafeAtOrAbove <= p.max, { message: 'needs min < max and min ≤ unsafeAtOrAbove ≤ max' }),
    ]),
    temperature: z.number().min(0).default(0),
    maxTokens: z.number().int().positive().default(512),
  })
  .strict()
  .refine((c) => (c.prompt === undefined) !== (c.promptFile === undefined), { message: 'give exactly one of prompt and promptFile' });
export type RubricJudgeConfig = z.output<typeof RubricJudgeConfigSchema>;

/** Validates a rubric config object (and its template's placeholders); `origin` names it in errors. */
export function parseRubricJudgeConfig(value: unknown, origin: string, baseDir = '.'): RubricJudgeConfig & { template: string } {
  const parsed = RubricJudgeConfigSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`${origin}: field "${issue.path.join('.') || '(root)'}": ${issue.message}`);
  }
  let template = parsed.data.prompt;
  if (template === undefined) {
    const path = resolve(baseDir, parsed.data.promptFile!);
    if (!existsSync(path)) throw new ConfigError(`${origin}: field "promptFile": ${path} does not exist`);
    template = readFileSync(path, 'utf8');
  }
  const unknown = [...template.matchAll(/\{\{\s*([a-zA-Z_]+)\s*\}\}/g)].map((m) => m[1]).filter((name) => !(RUBRIC_PLACEHOLDERS as readonly string[]).includes(name));
  if (unknown.length > 0)
    throw new ConfigError(`${origin}: prompt template uses unknown placeholder(s) ${unknown.map((u) => `{{${u}}}`).join(', ')}; known: ${RUBRIC_PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')}`);
  if (!/\{\{\s*(reply|conversation)\s*\}\}/.test(template)) throw new ConfigError(`${origin}: prompt template must include {{reply}} or {{conversation}} (what is judged)`);
  return { ...parsed.data, template };
}

/** Reads a rubric judge config (JSON) from a file; promptFile is relative to it. */
export function loadRubricJudgeConfig(path: string): RubricJudgeConfig & { template: string } {
  if (!existsSync(path)) throw new ConfigError(`${path}: rubric judge config not found`);
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`${path}: not valid JSON (${(error as Error).message})`);
  }
  return parseRubricJudgeConfig(value, path, dirname(path));
}

export function fillRubricTemplate(template: string, conversation: readonly Message[]): string {
  const view = targetView(conversation);
  const last = (role: Message['role']) => [...view].reverse().find((m) => m.role === role)?.content ?? '';
  const values: Record<string, string> = {
    conversation: view.map((m) => `${m.role === 'user' ? 'User' : 'Agent'}: ${m.content}`).join('\n\n'),
    question: last('user'),
    reply: last('assistant'),
  };
  return template.replace(/\{\{\s*([a-zA-Z_]+)\s*\}\}/g, (_, name: string) => values[name]);
}

/** Applies the parser to one output; pUnsafe is 1/0 for labels and the scale position for scores. */
export function parseRubricOutput(text: string, parser: RubricJudgeConfig['parser']): { verdict: 'unsafe' | 'safe'; pUnsafe: number; raw: string } | { error: string } {
  const match = new RegExp(parser.pattern, 'i').exec(text);
  const raw = match?.[1];
  if (raw === undefined) return { error: `pattern ${parser.pattern} did not match` };
  if (parser.kind === 'label') {
    const label = raw.trim().toLowerCase();
    if (parser.unsafe.some((l) => l.toLowerCase() === label)) return { verdict: 'unsafe', pUnsafe: 1, raw };
    if (parser.safe.some((l) => l.toLowerCase() === label)) return { verdict: 'safe', pUnsafe: 0, raw };
    return { error: `label "${raw}" is in neither the unsafe nor the safe list` };
  }
  const score = Number(raw.trim());
  if (!Number.isFinite(score) || score < parser.min || score > parser.max) return { error: `score "${raw}" is not a number in [${parser.min}, ${parser.max}]` };
  return { verdict: score >= parser.unsafeAtOrAbove ? 'unsafe' : 'safe', pUnsafe: (score - parser.min) / (parser.max - parser.min), raw };
}

export class RubricJudge implements Judge {
  readonly id: string;
  constructor(
    private readonly model: ChatModel,
    private readonly config: RubricJudgeConfig & { template: string },
  ) {
    this.id = config.id;
  }

  async judge(conversations: readonly (readonly Message[])[]): Promise<Judgement[]> {
    const out: Judgement[] = new Array(conversations.length);
    const indexed = conversations.map((c, i) => ({ c, i }));
    for (const batch of batches(indexed, 16)) {
      const responses = await this.model.generate(
        batch.map((b) => ({
          messages: [...(this.config.system ? [system(this.config.system)] : []), user(fillRubricTemplate(this.config.template, b.c))],
          sampling: { temperature: this.config.temperature, topP: 1, maxTokens: this.config.maxTokens },
          seed: 0,
        })),
      );
      batch.forEach((b, k) => {
        const r = responses[k];
        if (r.finishReason === 'error') return void (out[b.i] = failed(this.id, r.error));
        const parsed = parseRubricOutput(r.text, this.config.parser);
        if ('error' in parsed) return void (out[b.i] = undetermined(this.id, parsed.error));
        out[b.i] = { verdict: parsed.verdict, pUnsafe: parsed.pUnsafe, pSafe: 1 - parsed.pUnsafe, rationale: `rubric answer "${parsed.raw}"`, judgeId: this.id };
      });
    }
    return out;
  }
}
