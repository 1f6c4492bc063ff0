/**
 * Crash-safe writes: a file or a whole directory is written under a temporary name and renamed
 * into place, so a kill at any moment leaves either the old version or the new one, never half.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { appendFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export function writeFileAtomic(path: string, content: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  const fd = openSync(temporary, 'w');
  try {
    writeSync(fd, typeof content === 'string' ? Buffer.from(content, 'utf8') : content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}

/** Writes every file into a fresh temporary directory, then swaps it in for `dir`. */
export function writeDirectoryAtomic(dir: string, files: Record<string, string | Uint8Array>): void {
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const temporary = join(parent, `.${basename(dir)}.tmp-${process.pid}`);
  rmSync(temporary, { recursive: true, force: true });
  mkdirSync(temporary);
  for (const [name, content] of Object.entries(files)) {
    const fd = openSync(join(temporary, name), 'w');
    try {
      writeSync(fd, typeof content === 'string' ? Buffer.from(content, 'utf8') : content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  if (existsSync(dir)) {
    const old = join(parent, `.${basename(dir)}.old-${process.pid}`);
    renameSync(dir, old);
    renameSync(temporary, dir);
    rmSync(old, { recursive: true, force: true });
  } else {
    renameSync(temporary, dir);
  }
}

/**
 * Appends one line (a JSON record) with a single write(2) call, so a kill leaves either the whole
 * line or none of it; readers skip a torn last line anyway (see storage/jsonl.ts).
 */
export function appendLine(path: string, line: string): void {
  mkdirSync(dirname(path), { recursive: true });
  appendFileSync(path, line.endsWith('\n') ? line : `${line}\n`);
}
