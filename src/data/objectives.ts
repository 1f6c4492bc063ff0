/**
 * Objectives files for `mtsa attack`: a CSV with a header row whose objective column is named
 * `objective`, `goal`, `behavior`/`Behavior` (HarmBench's behaviours CSV) or `prompt`, or JSONL
 * with one object per line carrying one of those fields. Optional columns: `id` / `BehaviorID`,
 * `category` / `SemanticCategory`. Benchmark files are read from the user's path, never shipped.
 */
import { readFileSync } from 'node:fs';
import { parse as parseCsv } from 'csv-parse/sync';
import { ConfigError } from '../core/errors.js';
import type { ObjectiveRef } from '../core/trajectory.js';

const TEXT_COLUMNS = ['objective', 'goal', 'behavior', 'prompt'];
const ID_COLUMNS = ['id', 'behaviorid', 'index'];
const CATEGORY_COLUMNS = ['category', 'semanticcategory'];

function pick(record: Record<string, unknown>, names: readonly string[]): { key: string; value: unknown } | undefined {
  for (const name of names) {
    const key = Object.keys(record).find((k) => k.trim().toLowerCase() === name);
    if (key !== undefined) return { key, value: record[key] };
  }
  return undefined;
}

function toObjective(record: Record<string, unknown>, where: string, index: number): ObjectiveRef {
  const text = pick(record, TEXT_COLUMNS);
  if (!text) throw new ConfigError(`${where}: no objective field; name the column/field one of ${TEXT_COLUMNS.join(', ')} (found: ${Object.keys(record).join(', ') || 'none'})`);
  if (typeof text.value !== 'string' || text.value.trim() === '') throw new ConfigError(`${where}: field "${text.key}" is empty or not text`);
  const id = pick(record, ID_COLUMNS)?.value;
  const category = pick(record, CATEGORY_COLUMNS)?.value;
  return {
    id: id !== undefined && String(id).trim() !== '' ? String(id).trim() : `objective-${index + 1}`,
    text: text.value.trim(),
    kind: 'harmful',
    ...(typeof category === 'string' && category.trim() !== '' ? { category: category.trim() } : {}),
  };
}

/** Parses an objectives file's text; `source` names it in errors (with the line). */
export function parseObjectives(text: string, source: string): ObjectiveRef[] {
  const jsonl = source.endsWith('.jsonl') || source.endsWith('.ndjson') || /^\s*\{/.test(text);
  let objectives: ObjectiveRef[];
  if (jsonl) {
    objectives = [];
    text.split(/\r?\n/).forEach((line, i) => {
      if (line.trim() === '') return;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (error) {
        throw new ConfigError(`${source}:${i + 1}: not valid JSON (${(error as Error).message}); an objectives JSONL file holds one object per line`);
      }
      if (!value || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(`${source}:${i + 1}: expected an object such as {"objective": "..."}`);
      objectives.push(toObjective(value as Record<string, unknown>, `${source}:${i + 1}`, objectives.length));
    });
  } else {
    let rows: Record<string, string>[];
    try {
      rows = parseCsv(text, { columns: true, skip_empty_lines: true, bom: true, relax_column_count: true }) as Record<string, string>[];
    } catch (error) {
      throw new ConfigError(`${source}: not a readable CSV file (${(error as Error).message}); the first row must be a header with an objective column`);
    }
    // Line numbers: the header is line 1; quoted fields may span lines, so name the row instead.
    objectives = rows.map((row, i) => toObjective(row, `${source}: data row ${i + 1}`, i));
  }
  if (objectives.length === 0) throw new ConfigError(`${source}: no objectives found`);
  const seen = new Set<string>();
  for (const o of objectives) {
    if (seen.has(o.id)) throw new ConfigError(`${source}: objective id "${o.id}" appears twice; ids must be unique (they key resumable steps)`);
    seen.add(o.id);
  }
  return objectives;
}

export function loadObjectives(path: string): ObjectiveRef[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`${path}: cannot read the objectives file (${(error as Error).message})`);
  }
  return parseObjectives(text, path);
}
