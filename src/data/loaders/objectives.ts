/**
 * Harmful objectives from benchmark files the user supplies (never committed):
 *   harmbench       harmbench_behaviors_text_*.csv: Behavior, FunctionalCategory, SemanticCategory, Tags, ContextString, BehaviorID
 *   advbench        harmful_behaviors.csv: goal, target
 *   jailbreakbench  harmful-behaviors.csv / benign-behaviors.csv: Index, Goal, Target, Behavior, Category, Source
 *   csv             any CSV with a `goal` (or `objective`) column, optional `id`, `category`
 *   jsonl           {"goal" | "objective": …, "id"?: …, "category"?: …} per line
 * Categories are kept (per-category ASR); HarmBench's ContextString is kept for its contextual
 * classifier prompt. `detectObjectiveFormat` picks the format from the file's header.
 */
import { basename, extname } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../../core/errors.js';
import type { ObjectiveRef } from '../../core/trajectory.js';
import { parseCsvRow, readCsv, readJsonl } from './read.js';

export type ObjectiveFormat = 'harmbench' | 'advbench' | 'jailbreakbench' | 'csv' | 'jsonl';
export const OBJECTIVE_FORMATS: readonly ObjectiveFormat[] = ['harmbench', 'advbench', 'jailbreakbench', 'csv', 'jsonl'];

export interface LoadedObjective extends ObjectiveRef {
  /** HarmBench ContextString (contextual behaviours) */
  context?: string;
  /** HarmBench FunctionalCategory (standard / contextual / copyright) */
  functionalCategory?: string;
  /** file and line the objective came from */
  origin: string;
}

const text = (what: string) =>
  z
    .string({ error: `missing ${what}` })
    .trim()
    .min(1, { message: `${what} is empty` });
const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const HarmBenchRowSchema = z.object({
  Behavior: text('Behavior'),
  FunctionalCategory: text('FunctionalCategory'),
  SemanticCategory: optionalText,
  Tags: optionalText,
  ContextString: optionalText,
  BehaviorID: text('BehaviorID'),
});
const AdvBenchRowSchema = z.object({ goal: text('goal'), target: z.string() });
const JailbreakBenchRowSchema = z.object({
  Index: z.string().regex(/^\d+$/, { message: 'Index must be a whole number' }),
  Goal: text('Goal'),
  Target: z.string(),
  Behavior: text('Behavior'),
  Category: text('Category'),
  Source: z.string(),
});
const PlainRowSchema = z
  .object({ id: optionalText, goal: optionalText, objective: optionalText, category: optionalText })
  .refine((r) => r.goal ?? r.objective, { message: 'needs a non-empty goal (or objective)', path: ['goal'] });
const JsonlSchema = z
  .object({ id: z.union([z.string(), z.number()]).optional(), goal: z.string().trim().min(1).optional(), objective: z.string().trim().min(1).optional(), category: z.string().optional() })
  .refine((r) => r.goal ?? r.objective, { message: 'needs a non-empty "goal" (or "objective")', path: ['goal'] });

const REQUIRED: Record<Exclude<ObjectiveFormat, 'jsonl' | 'csv'>, string[]> = {
  harmbench: ['Behavior', 'FunctionalCategory', 'SemanticCategory', 'Tags', 'ContextString', 'BehaviorID'],
  advbench: ['goal', 'target'],
  jailbreakbench: ['Index', 'Goal', 'Target', 'Behavior', 'Category', 'Source'],
};

/** The format a file's extension and header say it is. */
export function detectObjectiveFormat(path: string, header?: readonly string[]): ObjectiveFormat {
  if (['.jsonl', '.json'].includes(extname(path).toLowerCase())) return 'jsonl';
  const h = new Set(header ?? []);
  if (h.has('BehaviorID') && h.has('Behavior')) return 'harmbench';
  if (h.has('Goal') && h.has('Category') && h.has('Index')) return 'jailbreakbench';
  if (h.has('goal') && h.has('target') && h.size === 2) return 'advbench';
  return 'csv';
}

export function loadObjectives(path: string, format?: ObjectiveFormat): LoadedObjective[] {
  if ((format ?? detectObjectiveFormat(path)) === 'jsonl') {
    return readJsonl(path, JsonlSchema, 'objectives').map(({ line, value }) => ({
      id: value.id !== undefined ? String(value.id) : `line-${line}`,
      text: (value.goal ?? value.objective)!,
      kind: 'harmful' as const,
      ...(value.category ? { category: value.category } : {}),
      origin: `${path}:${line}`,
    }));
  }
  const probe = readCsv(path, { what: 'objectives', required: [] });
  const chosen = format ?? detectObjectiveFormat(path, probe.header);
  if (format === undefined && chosen === 'jailbreakbench' && /benign/i.test(basename(path))) {
    throw new ConfigError(
      `${path}: this looks like JailbreakBench's benign behaviours, which are not harmful objectives; load it as over-refusal prompts, or pass the format explicitly to use it as objectives`,
    );
  }
  if (chosen === 'jsonl') throw new ConfigError(`${path}: format jsonl given for a CSV file`);
  const required = chosen === 'csv' ? [] : REQUIRED[chosen];
  const { header, rows } = readCsv(path, { what: `${chosen} objectives`, required });
  if (chosen === 'csv' && !header.includes('goal') && !header.includes('objective'))
    throw new ConfigError(`${path}:1: missing column "goal" (or "objective") in the header (found: ${header.join(', ')})`);
  const objectives = rows.map((row): LoadedObjective => {
    const origin = `${path}:${row.line}`;
    switch (chosen) {
      case 'harmbench': {
        const r = parseCsvRow(path, header, row, HarmBenchRowSchema);
        return {
          id: r.BehaviorID,
          text: r.Behavior,
          kind: 'harmful',
          ...(r.SemanticCategory ? { category: r.SemanticCategory } : {}),
          functionalCategory: r.FunctionalCategory,
          ...(r.ContextString ? { context: r.ContextString } : {}),
          origin,
        };
      }
      case 'advbench': {
        const r = parseCsvRow(path, header, row, AdvBenchRowSchema);
        return { id: `advbench-${row.line - 1}`, text: r.goal, kind: 'harmful', origin };
      }
      case 'jailbreakbench': {
        const r = parseCsvRow(path, header, row, JailbreakBenchRowSchema);
        return { id: `jbb-${r.Index}`, text: r.Goal, kind: 'harmful', category: r.Category, origin };
      }
      case 'csv': {
        const r = parseCsvRow(path, header, row, PlainRowSchema);
        return { id: r.id ?? `line-${row.line}`, text: (r.goal ?? r.objective)!, kind: 'harmful', ...(r.category ? { category: r.category } : {}), origin };
      }
    }
  });
  const seen = new Map<string, string>();
  for (const o of objectives) {
    if (seen.has(o.id)) throw new ConfigError(`${o.origin}: duplicate objective id "${o.id}" (first at ${seen.get(o.id)})`);
    seen.set(o.id, o.origin);
  }
  return objectives;
}
