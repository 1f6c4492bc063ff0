/**
 * Prompts a target should answer, from files the user supplies:
 *   xstest     xstest_prompts.csv: id, prompt, type, label, focus, note — only `label = safe` rows
 *              are over-refusal prompts (the unsafe `contrast_*` rows are not); `type` is kept
 *   orbench    or-bench-80k.csv / or-bench-hard-1k.csv: prompt, category
 *   jailbreakbench-benign  benign-behaviors.csv: Index, Goal, Target, Behavior, Category, Source
 *   helpfulness JSONL: {"prompt" | "request": …, "id"?: …, "reference"?: …, "category"?: …}
 */
import { z } from 'zod';
import { ConfigError } from '../../core/errors.js';
import { parseCsvRow, readCsv, readJsonl } from './read.js';

export interface LoadedPrompt {
  id: string;
  request: string;
  /** XSTest `type`, OR-Bench `category`, or the JSONL `category` */
  category?: string;
  /** a reference answer where the file gives one */
  reference?: string;
  origin: string;
}

const nonEmpty = (what: string) =>
  z
    .string({ error: `missing ${what}` })
    .trim()
    .min(1, { message: `${what} is empty` });

const XsTestRowSchema = z.object({
  id: nonEmpty('id'),
  prompt: nonEmpty('prompt'),
  type: nonEmpty('type'),
  label: z.enum(['safe', 'unsafe'], { error: 'label must be "safe" or "unsafe"' }),
  focus: z.string().optional(),
  note: z.string().optional(),
});

/** XSTest's safe prompts (the over-refusal set); `type` is kept as the category. */
export function loadXsTest(path: string): LoadedPrompt[] {
  const { header, rows } = readCsv(path, { what: 'XSTest', required: ['id', 'prompt', 'type', 'label', 'focus', 'note'] });
  return rows
    .map((row) => ({ row, r: parseCsvRow(path, header, row, XsTestRowSchema) }))
    .filter(({ r }) => r.label === 'safe')
    .map(({ row, r }) => ({ id: `xstest-${r.id}`, request: r.prompt, category: r.type, origin: `${path}:${row.line}` }));
}

const OrBenchRowSchema = z.object({ prompt: nonEmpty('prompt'), category: nonEmpty('category') });

export function loadOrBench(path: string): LoadedPrompt[] {
  const { header, rows } = readCsv(path, { what: 'OR-Bench', required: ['prompt', 'category'] });
  return rows.map((row) => {
    const r = parseCsvRow(path, header, row, OrBenchRowSchema);
    return { id: `orbench-${row.line}`, request: r.prompt, category: r.category, origin: `${path}:${row.line}` };
  });
}

const JbbBenignRowSchema = z.object({ Index: z.string().regex(/^\d+$/, { message: 'Index must be a whole number' }), Goal: nonEmpty('Goal'), Category: nonEmpty('Category') });

/** JailbreakBench's benign behaviours (thematically close to the harmful ones): prompts a target should answer. */
export function loadJailbreakBenchBenign(path: string): LoadedPrompt[] {
  const { header, rows } = readCsv(path, { what: 'JailbreakBench benign behaviours', required: ['Index', 'Goal', 'Target', 'Behavior', 'Category', 'Source'] });
  return rows.map((row) => {
    const r = parseCsvRow(path, header, row, JbbBenignRowSchema);
    return { id: `jbb-benign-${r.Index}`, request: r.Goal, category: r.Category, origin: `${path}:${row.line}` };
  });
}

export type OverRefusalFormat = 'xstest' | 'orbench' | 'jailbreakbench-benign';

/** XSTest, OR-Bench or JailbreakBench's benign set, told apart by the header when no format is given. */
export function loadOverRefusalPrompts(path: string, format?: OverRefusalFormat): LoadedPrompt[] {
  const header = format ? [] : readCsv(path, { what: 'over-refusal prompts', required: [] }).header;
  const chosen = format ?? (header.includes('label') ? 'xstest' : header.includes('Goal') ? 'jailbreakbench-benign' : 'orbench');
  if (chosen === 'xstest') return loadXsTest(path);
  return chosen === 'jailbreakbench-benign' ? loadJailbreakBenchBenign(path) : loadOrBench(path);
}

const HelpfulnessSchema = z
  .object({
    id: z.union([z.string(), z.number()]).optional(),
    prompt: z.string().trim().min(1).optional(),
    request: z.string().trim().min(1).optional(),
    reference: z.string().optional(),
    category: z.string().optional(),
  })
  .refine((r) => r.prompt ?? r.request, { message: 'needs a non-empty "prompt" (or "request")', path: ['prompt'] });

export function loadHelpfulnessPrompts(path: string): LoadedPrompt[] {
  const out = readJsonl(path, HelpfulnessSchema, 'helpfulness prompts').map(({ line, value }) => ({
    id: value.id !== undefined ? String(value.id) : `line-${line}`,
    request: (value.prompt ?? value.request)!,
    ...(value.category ? { category: value.category } : {}),
    ...(value.reference ? { reference: value.reference } : {}),
    origin: `${path}:${line}`,
  }));
  const ids = new Set<string>();
  for (const p of out) {
    if (ids.has(p.id)) throw new ConfigError(`${p.origin}: duplicate id "${p.id}"`);
    ids.add(p.id);
  }
  return out;
}
