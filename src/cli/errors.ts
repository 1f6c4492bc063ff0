/**
 * What the user sees when a command fails: one line with the path and what to do. Filesystem
 * errors (no space, permissions, read-only, a file where a directory should be) and parse errors
 * get a remedy; the project's own errors already carry theirs; anything else is an internal error.
 * `--verbose` adds the stack and the cause chain.
 */
import { MtsaError } from '../core/errors.js';

export interface ErrorContext {
  /** the run directory of `mtsa run`, for "continue with --resume" */
  runDir?: string;
}

type Errno = Error & { code?: string; path?: string; dest?: string; syscall?: string };

/** The first error in the cause chain that carries an errno code. */
function errnoOf(error: unknown): Errno | undefined {
  for (let e = error as Errno | undefined, depth = 0; e && depth < 8; e = e.cause as Errno | undefined, depth++) {
    if (typeof e === 'object' && typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) return e;
  }
  return undefined;
}

function fsRemedy(e: Errno, context: ErrorContext): string | undefined {
  const path = e.path ?? '(unknown path)';
  const resume = context.runDir ? `, then continue with \`mtsa run --resume ${context.runDir}\`` : ', then run the command again';
  switch (e.code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return `no space left on the device writing ${path}: free some space${resume} (completed steps are kept)`;
    case 'EACCES':
    case 'EPERM':
      return `permission denied on ${path}: choose another --out / --cache, or make it writable`;
    case 'EROFS':
      return `${path} is on a read-only file system: choose another --out / --cache`;
    case 'ENOTDIR':
      return `${path}: part of this path is a file, not a directory: choose another --out / --cache`;
    case 'EISDIR':
      return `${path} is a directory where a file was expected: pass the file, or remove the directory`;
    case 'EEXIST':
      return `${path} already exists: choose another --out, or remove it`;
    case 'ENOENT':
      return `${path} does not exist: check the path`;
    case 'EMFILE':
    case 'ENFILE':
      return `too many open files (at ${path}): raise the limit (ulimit -n) and run again`;
    case 'EIO':
      return `input/output error at ${path}: the disk or file system is failing; check it${resume}`;
    default:
      return undefined;
  }
}

/** One line (several only for a config with several bad fields) describing `error`, without a stack. */
export function describeError(error: unknown, context: ErrorContext = {}): string {
  const errno = errnoOf(error);
  const remedy = errno ? fsRemedy(errno, context) : undefined;
  if (remedy) return error instanceof MtsaError && error !== errno ? `${remedy} (${error.message})` : remedy;
  if (error instanceof MtsaError || (error as Error)?.name === 'ZodError') return (error as Error).message;
  if (error instanceof SyntaxError) return `could not parse input: ${error.message} (run with --verbose to see where)`;
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return `internal error: ${message} (run with --verbose for the stack trace, and please report it)`;
}

/** The stack and the cause chain, for --verbose. */
export function errorDetails(error: unknown): string {
  const lines: string[] = [];
  for (let e = error as Error | undefined, depth = 0; e && depth < 8; e = e.cause as Error | undefined, depth++) {
    lines.push(`${depth === 0 ? '' : 'caused by: '}${e.stack ?? String(e)}`);
  }
  return lines.join('\n');
}
