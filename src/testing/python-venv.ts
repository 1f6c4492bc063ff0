/**
 * The project's Python venv for tests that run the ecosystem's own tools (transformers,
 * `transformers serve`): MTSA_VENV, else <repo>/.venv (made by scripts/setup-python.sh). In CI a
 * missing venv is an error (the test must not pass silently); elsewhere the test is skipped with
 * the reason printed.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest folder above this file with a package.json (works from src/ and dist/src/). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

export const REPO_ROOT = repoRoot();

export interface Venv {
  dir: string;
  python: string;
  bin: (name: string) => string;
}

export function findVenv(env: Readonly<Record<string, string | undefined>> = process.env): Venv | { missing: string } {
  const dir = env.MTSA_VENV ?? join(REPO_ROOT, '.venv');
  const python = join(dir, 'bin', 'python');
  if (!existsSync(python)) return { missing: `no Python venv at ${dir} (run \`bash scripts/setup-python.sh\`, or set MTSA_VENV)` };
  return { dir, python, bin: (name) => join(dir, 'bin', name) };
}

/** The venv, or null outside CI (with the reason on stderr); throws in CI. */
export function venvForTest(what: string): Venv | null {
  const venv = findVenv();
  if ('missing' in venv) {
    if (process.env.CI === 'true') throw new Error(`${what} needs the project's Python venv: ${venv.missing}`);
    process.stderr.write(`skipping ${what}: ${venv.missing}\n`);
    return null;
  }
  return venv;
}
