/**
 * Builds the tiny arena once per test run (about a minute on two cores), into a cache shared by
 * every test file; builds are keyed by a content hash, so reuse across runs is safe. The build runs
 * in a child process so that no kernel threads linger in the test runner.
 */
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

export const TEST_CACHE = process.env.MTSA_TEST_CACHE ?? join(tmpdir(), 'mtsa-test-cache');
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export default function setup(project: TestProject): void {
  const result = spawnSync(process.execPath, [join(root, 'bin', 'mtsa.js'), 'arena', 'build', '--tiny', '--cache', TEST_CACHE], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`building the test arena failed (is dist/ built? npm test builds it):\n${result.stderr}`);
  project.provide('arenaCache', TEST_CACHE);
}

declare module 'vitest' {
  export interface ProvidedContext {
    arenaCache: string;
  }
}
