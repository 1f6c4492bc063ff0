/**
 * Benchmark: `mtsa attack` against a real `transformers serve` (project venv, CPU, one torch
 * thread) serving the tiny arena's target, at target concurrency 1 and 8: dialogues per second,
 * and the ratio (does the client keep the server busy?). The same attack also runs in-process on
 * the same weights, so the line carries both ASRs with their Wilson intervals.
 * Prints one JSON line:
 * {"bench":"attack-http","dialogues":…,"c1_dialogues_per_s":…,"c8_dialogues_per_s":…,"ratio":…,…}
 * Environment: MTSA_VENV (else .venv), MTSA_CACHE (tiny arena cache; built when missing),
 * MTSA_BENCH_DIALOGUES (default 64).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildArena } from '../src/arena/build.js';
import { tinyArenaConfig } from '../src/arena/config.js';
import { parseAttackConfig } from '../src/config/attack-config.js';
import type { AttackSummary } from '../src/data/attack-summary.js';
import { kernelChoice, useKernels } from '../src/engine/kernels/index.js';
import { runAttackJob } from '../src/run/run-attack.js';
import { findVenv } from '../src/testing/python-venv.js';
import { startTransformersServe } from '../src/testing/transformers-serve.js';

useKernels(kernelChoice(process.env.MTSA_KERNELS));

const venv = findVenv();
if ('missing' in venv) {
  process.stderr.write(`attack-http: ${venv.missing}\n`);
  process.exit(1);
}
const cacheDir = resolve(process.env.MTSA_CACHE ?? '.mtsa-cache');
const arenaConfig = tinyArenaConfig(1);
const arena = buildArena(arenaConfig, { cacheDir });
const wanted = Number(process.env.MTSA_BENCH_DIALOGUES ?? 64);
const pool = arena.world.harmful.filter((o) => o.split === 'test');
const repeats = Math.max(1, Math.ceil(wanted / pool.length));
const objectives = pool.slice(0, Math.ceil(wanted / repeats)).map((o) => ({ id: o.id, text: o.text, kind: 'harmful' as const, category: o.category }));
const shared = { seed: 7, maxTurns: 3, repeats, batchSize: 64, arena: arenaConfig, target: { sampling: { temperature: 1, topP: 0.95, maxTokens: 48 } } };
const work = mkdtempSync(join(tmpdir(), 'mtsa-bench-attack-http-'));

const served = await startTransformersServe(venv, arena.checkpoints.target);
const run = async (name: string, target: Record<string, unknown>): Promise<AttackSummary> =>
  runAttackJob({ config: parseAttackConfig({ ...shared, models: { target } }), objectives, outDir: join(work, name), cacheDir, resume: false, env: {} });
try {
  const server = (concurrency: number) => ({ kind: 'openai-compatible', baseUrl: served.url, model: served.model, flavour: 'transformers', template: 'ours', traffic: { concurrency } });
  await run('warm-up', server(1)).catch(() => undefined);
  const c1 = await run('c1', server(1));
  const c8 = await run('c8', server(8));
  const local = await run('in-process', { kind: 'checkpoint', path: arena.checkpoints.target });
  const rate = (s: AttackSummary) => ({ asr: s.asr.rate, low: s.asr.low, high: s.asr.high, n: s.asr.n });
  const perSecond = (s: AttackSummary) => s.dialogues / s.wallSeconds;
  process.stdout.write(
    `${JSON.stringify({
      bench: 'attack-http',
      dialogues: c1.dialogues,
      turns: shared.maxTurns,
      c1_dialogues_per_s: Number(perSecond(c1).toFixed(3)),
      c8_dialogues_per_s: Number(perSecond(c8).toFixed(3)),
      ratio: Number((perSecond(c8) / perSecond(c1)).toFixed(3)),
      in_process_dialogues_per_s: Number(perSecond(local).toFixed(3)),
      serve_startup_s: Number(served.startupSeconds.toFixed(1)),
      errored: c1.erroredDialogues + c8.erroredDialogues,
      asr_server_c8: rate(c8),
      asr_server_c1: rate(c1),
      asr_in_process: rate(local),
    })}\n`,
  );
} finally {
  await served.stop();
}
