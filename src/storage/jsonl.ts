/**
 * JSONL files of validated records. Appends are one write per line (a kill leaves whole lines);
 * reads validate every line against a zod schema and name the file and line of a bad record,
 * except a torn last line (no newline), which is what a kill mid-append leaves and is skipped.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { z } from 'zod';
import { appendLine } from '../core/atomic-write.js';
import { ConfigError } from '../core/errors.js';

export function appendRecords<T>(path: string, schema: z.ZodType<T>, records: readonly T[]): void {
  if (records.length === 0) return;
  appendLine(path, records.map((r) => JSON.stringify(schema.parse(r))).join('\n'));
}

export function readRecords<T>(path: string, schema: z.ZodType<T>): T[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  const complete = text.endsWith('\n') ? lines.slice(0, -1) : lines.slice(0, -1); // last piece is '' or torn
  const records: T[] = [];
  complete.forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new ConfigError(`${path}:${i + 1}: not valid JSON (${(error as Error).message})`);
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ConfigError(`${path}:${i + 1}: field "${issue.path.join('.')}": ${issue.message}`);
    }
    records.push(parsed.data);
  });
  return records;
}
