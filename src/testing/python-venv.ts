/**
 * The project's Python venv for tests that run the ecosystem's own tools (transformers,
 * `transformers serve`): MTSA_VENV, else <repo>/.venv (made by scripts/setup-python.sh). In CI a
 * missing venv is an error (the test must not pass silently); elsewhere the test is skipped with
 * the reason printed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectVenvDir, repositoryRoot } from '../models/torch/worker-process.js';

export const REPO_ROOT = repositoryRoot();

export interface Venv {
  dir: string;
  python: string;
  bin: (name: string) => string;
}

export function findVenv(env: Readonly<Record<string, string | undefined>> = process.env): Venv | { missing: string } {
  const dir = projectVenvDir(env);
  const python = join(dir, 'bin', 'python');
  if (!existsSync(python)) return { missing: `no Python venv at ${dir} (run \`bash scripts/setup-python.sh\`, or set MTSA_VENV)` };
  return { dir, python, bin: (name) => join(dir, 'bin', name) };
}

/** The venv, or why there is none: printed on stderr outside CI (the test skips), an error in CI (it must not pass silently). */
export function lookupVenvForTest(what: string): Venv | { missing: string } {
  const venv = findVenv();
  if ('missing' in venv) {
    if (process.env.CI === 'true') throw new Error(`${what} needs the project's Python venv: ${venv.missing}`);
    process.stderr.write(`skipping ${what}: ${venv.missing}\n`);
  }
  return venv;
}

/** The venv, or null outside CI (with the reason on stderr); throws in CI. */
export function venvForTest(what: string): Venv | null {
  const venv = lookupVenvForTest(what);
  return 'missing' in venv ? null : venv;
}

export interface PythonVenv {
  python: string | undefined;
  /** why there is none (undefined when found) */
  reason: string | undefined;
}

/** The venv's interpreter for the Python cross-checks (gguf, jinja2): an error in CI when missing, a printed skip elsewhere. */
export function findPythonVenv(): PythonVenv {
  const venv = lookupVenvForTest('Python cross-checks');
  return 'missing' in venv ? { python: undefined, reason: venv.missing } : { python: venv.python, reason: undefined };
}

/** Runs a script from python/ with the venv's interpreter and parses its JSON stdout. */
export function runPythonJson(python: string, script: string, args: readonly string[], input?: string): unknown {
  const out = execFileSync(python, [join(REPO_ROOT, 'python', script), ...args], { encoding: 'utf8', input, maxBuffer: 256 * 1024 * 1024 });
  return JSON.parse(out);
}
