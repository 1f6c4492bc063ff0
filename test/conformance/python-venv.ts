/**
 * Tests that need the project's Python venv (torch, transformers, peft, trl): they run where the
 * venv exists, fail loudly in CI when it does not (CI creates it with scripts/setup-python.sh), and
 * elsewhere skip with the reason printed.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { repositoryRoot } from '../../src/models/torch/worker-process.js';

export function venvPython(): { python: string | null; reason: string } {
  const venv = process.env.MTSA_VENV ? resolve(process.env.MTSA_VENV) : join(repositoryRoot(), '.venv');
  const python = join(venv, 'bin', 'python');
  if (existsSync(python)) return { python, reason: '' };
  const reason = `no Python venv at ${venv}: run \`bash scripts/setup-python.sh\` or set MTSA_VENV`;
  if (process.env.CI === 'true') throw new Error(`CI needs the Python venv for the torch tests: ${reason}`);
  console.warn(`skipping torch tests: ${reason}`);
  return { python: null, reason };
}
