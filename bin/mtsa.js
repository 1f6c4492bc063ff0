#!/usr/bin/env node
// The installed `mtsa` command: runs the compiled CLI (npm install builds dist/ via `prepare`).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const entry = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'src', 'cli', 'main.js');
if (!existsSync(entry)) {
  console.error('mtsa: dist/ is missing; run `npm run build` (npm install does it) first');
  process.exit(1);
}
await import(entry);
