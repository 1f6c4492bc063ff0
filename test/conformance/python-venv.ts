/**
 * Tests that need the project's Python venv (torch, transformers, peft, trl): they run where the
 * venv exists, fail loudly in CI when it does not (CI creates it with scripts/setup-python.sh), and
 * elsewhere skip with the reason printed. The lookup is src/testing/python-venv.ts's.
 */
import { lookupVenvForTest } from '../../src/testing/python-venv.js';

export function venvPython(): { python: string | null; reason: string } {
  const venv = lookupVenvForTest('the torch tests');
  return 'missing' in venv ? { python: null, reason: venv.missing } : { python: venv.python, reason: '' };
}
