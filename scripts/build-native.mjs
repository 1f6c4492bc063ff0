// Builds the optional native kernel addon (native/: our matrix product and layer loops in C) at
// install time. Never fails the install: without a C compiler the engine uses its portable
// TypeScript kernels, and the CLI prints a one-line hint about the faster path.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (process.env.MTSA_NO_NATIVE) {
  console.log('mtsa: MTSA_NO_NATIVE is set; skipping the native kernel addon (portable kernels).');
  process.exit(0);
}
if (spawnSync('cc', ['--version']).status !== 0) {
  console.log('mtsa: no C compiler found; using portable TypeScript kernels. For the fast path: apt-get install build-essential && npm rebuild mtsa');
  process.exit(0);
}
// npm puts its bundled node-gyp on PATH for lifecycle scripts; fall back to the copy npm ships.
const candidates = [process.env.npm_config_node_gyp, '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js', '/usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'].filter(
  Boolean,
);
const gyp = candidates.find((c) => existsSync(c));
const args = ['rebuild', '--directory', join(root, 'native'), '--nodedir=/usr'];
if (!existsSync('/usr/include/node/node_api.h')) args.pop();
const result = gyp ? spawnSync(process.execPath, [gyp, ...args], { stdio: 'inherit' }) : spawnSync('node-gyp', args, { stdio: 'inherit', shell: true });
if (result.status !== 0) {
  console.log('mtsa: the native kernel addon did not build; using portable TypeScript kernels.');
}
process.exit(0);
