/**
 * The project's Python venv for tests that check our files with the field's own Python tools
 * (`gguf`, `jinja2`): MTSA_VENV, else <repo>/.venv (scripts/setup-python.sh creates it). In CI a
 * missing venv is an error; elsewhere the test is skipped with the reason printed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface PythonVenv {
  python: string | undefined;
  /** why there is none (undefined when found) */
  reason: string | undefined;
}

export function findPythonVenv(): PythonVenv {
  const venv = process.env.MTSA_VENV ?? join(repoRoot, '.venv');
  const python = join(venv, 'bin', 'python');
  if (!existsSync(python)) {
    const reason = `no Python venv at ${venv} (run scripts/setup-python.sh or set MTSA_VENV)`;
    if (process.env.CI === 'true') throw new Error(`${reason}; CI must run scripts/setup-python.sh before the tests`);
    process.stderr.write(`skipping Python cross-checks: ${reason}\n`);
    return { python: undefined, reason };
  }
  return { python, reason: undefined };
}

/** Runs a script from python/ with the venv's interpreter and parses its JSON stdout. */
export function runPythonJson(python: string, script: string, args: readonly string[], input?: string): unknown {
  const out = execFileSync(python, [join(repoRoot, 'python', script), ...args], { encoding: 'utf8', input, maxBuffer: 256 * 1024 * 1024 });
  return JSON.parse(out);
}
