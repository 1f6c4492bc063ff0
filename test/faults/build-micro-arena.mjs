/**
 * Builds the seconds-scale micro arena into the cache directory argv[2] (from dist/) and prints one
 * JSON line: the seconds it took and the phase-end events (the lock wait included). Used to race
 * two builds of the same cache entry in test/e2e/faults.test.ts.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { buildArena } = await import(join(root, 'dist', 'src', 'arena', 'build.js'));
const { microArenaConfig } = await import(join(root, 'dist', 'src', 'arena', 'config.js'));
const events = [];
const started = performance.now();
const build = buildArena(microArenaConfig(7), {
  cacheDir: process.argv[2],
  onEvent: (e) => {
    if (e.type === 'phase-end') events.push(`${e.phase}${e.cached ? ' (cached)' : ''}${e.phase === 'lock' ? `: ${e.detail}` : ''}`);
  },
});
process.stdout.write(`${JSON.stringify({ dir: build.dir, seconds: (performance.now() - started) / 1000, events })}\n`);
