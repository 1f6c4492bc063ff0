/**
 * Copies the report's browser script (src/report/client/report-client.js) next to the compiled
 * build-report.js in dist/, byte for byte: tsc checks it (src/report/client/tsconfig.json) but does
 * not copy .js sources, and re-emitting it would turn it into a module that a classic <script> cannot run.
 * Run by npm run build.
 */
import { copyFileSync, mkdirSync } from 'node:fs';

const from = new URL('../src/report/client/report-client.js', import.meta.url);
const to = new URL('../dist/src/report/client/report-client.js', import.meta.url);
mkdirSync(new URL('.', to), { recursive: true });
copyFileSync(from, to);
