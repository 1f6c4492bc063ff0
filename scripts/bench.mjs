// npm run bench -- <name>: runs dist/bench/<name>.js (building first if needed). Each bench prints
// one JSON line with its figure and the ratio against an anchor measured in the same run.
import { existsSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const names = readdirSync(join(root, 'bench'))
  .filter((f) => f.endsWith('.ts') && !['reference.ts', 'python-anchor.ts'].includes(f))
  .map((f) => f.slice(0, -3));
const name = process.argv[2];
if (!name || !names.includes(name)) {
  console.error(`usage: npm run bench -- <${names.join('|')}>`);
  process.exit(2);
}
const target = join(root, 'dist', 'bench', `${name}.js`);
if (!existsSync(target)) spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
const result = spawnSync(process.execPath, [target, ...process.argv.slice(3)], { stdio: 'inherit' });
process.exit(result.status ?? 1);
