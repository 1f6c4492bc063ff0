/**
 * Reading user-supplied data files (CSV, JSONL) with errors that name the file, the line and the
 * column or field, and say what was expected. CSV goes through csv-parse (RFC 4180: quoted
 * fields with commas, quotes and newlines; a UTF-8 byte-order mark is dropped).
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import type { z } from 'zod';
import { ConfigError } from '../../core/errors.js';

export interface CsvRow {
  /** 1-based line where the record starts (a quoted field may span lines) */
  line: number;
  /** header name → cell text */
  cells: Record<string, string>;
}

function readText(path: string, what: string): string {
  if (!existsSync(path)) throw new ConfigError(`${path}: ${what} file not found`);
  const text = readFileSync(path, 'utf8');
  if (text.replace(/^\uFEFF/, '').trim() === '') throw new ConfigError(`${path}: the ${what} file is empty`);
  return text;
}

/**
 * Rows of a CSV file with a header line. `required` columns must be present (extra columns are
 * allowed and kept); a header without one is an error listing what was found.
 */
export function readCsv(path: string, options: { what: string; required: readonly string[] }): { header: string[]; rows: CsvRow[] } {
  const text = readText(path, options.what);
  let records: { record: string[]; info: { lines: number }; raw: string }[];
  try {
    records = parse(text, { bom: true, info: true, raw: true, skip_empty_lines: true, relax_column_count: false }) as unknown as typeof records;
  } catch (error) {
    const e = error as Error & { lines?: number };
    throw new ConfigError(`${path}:${e.lines ?? '?'}: not valid CSV (${e.message.replace(/^Invalid Record Length: /, '')}); quote fields that contain commas, quotes or line breaks`, { cause: error });
  }
  if (records.length === 0) throw new ConfigError(`${path}: the ${options.what} file is empty`);
  const header = records[0].record.map((h) => h.trim());
  const missing = options.required.filter((c) => !header.includes(c));
  if (missing.length > 0)
    throw new ConfigError(
      `${path}:1: missing column${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')} in the header (found: ${header.join(', ')}); a ${options.what} file needs ${options.required.join(', ')}`,
    );
  if (records.length === 1) throw new ConfigError(`${path}: the ${options.what} file has a header but no rows`);
  const rows = records.slice(1).map(({ record, info, raw }) => {
    // info.lines is the line the record ends on; count the line breaks inside it to find its start.
    const inner = (raw.replace(/\r?\n$/, '').match(/\n/g) ?? []).length;
    return { line: info.lines - inner, cells: Object.fromEntries(header.map((h, i) => [h, record[i]])) };
  });
  return { header, rows };
}

/** Validates one CSV row; an issue names the file, the line and the column (name and number). */
export function parseCsvRow<S extends z.ZodType>(path: string, header: readonly string[], row: CsvRow, schema: S): z.output<S> {
  const parsed = schema.safeParse(row.cells);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const column = String(issue.path[0] ?? '');
  const index = header.indexOf(column);
  const where = column ? ` column "${column}"${index >= 0 ? ` (${index + 1})` : ''}` : '';
  const value = column && row.cells[column] !== undefined ? ` (got ${JSON.stringify(row.cells[column].slice(0, 60))})` : '';
  throw new ConfigError(`${path}:${row.line}:${where} ${issue.message}${value}`);
}

/**
 * Records of a JSONL file, each validated by `schema`. Blank lines are skipped; a line that is
 * not JSON names its line and column; a record that fails names its line and field.
 */
export function readJsonl<S extends z.ZodType>(path: string, schema: S, what: string): { line: number; value: z.output<S> }[] {
  const text = readText(path, what).replace(/^\uFEFF/, '');
  const out: { line: number; value: z.output<S> }[] = [];
  text.split(/\r?\n/).forEach((content, i) => {
    if (content.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(content);
    } catch (error) {
      const message = (error as Error).message;
      const position = /position (\d+)/.exec(message)?.[1];
      const column = position !== undefined ? Number(position) + 1 : /end of JSON input/.test(message) ? content.length + 1 : undefined;
      throw new ConfigError(`${path}:${i + 1}${column !== undefined ? `:${column}` : ''}: not valid JSON (${message}); each line of the ${what} file is one JSON value`);
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ConfigError(`${path}:${i + 1}: field "${issue.path.join('.') || '(record)'}": ${issue.message}`);
    }
    out.push({ line: i + 1, value: parsed.data });
  });
  return out;
}
