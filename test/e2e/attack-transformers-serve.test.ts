/**
 * Against a real server nobody here wrote: Hugging Face `transformers serve` (from the project
 * venv) serves the tiny arena's target checkpoint on 127.0.0.1. `mtsa attack` (the CLI) runs
 * against it with the arena's scripted red team and guard, and its ASR must agree, within the
 * Wilson 95% intervals, with the same attack run in-process on the same weights (160 dialogues
 * each; concurrency 1, so the server's per-request torch seed makes its samples reproducible and
 * the comparison cannot flake; bench/attack-http measures concurrency 8). The server's
 * /v1/chat/completions must work too (our checkpoints carry a chat template now).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildArena } from '../../src/arena/build.js';
import { tinyArenaConfig } from '../../src/arena/config.js';
import { parseAttackConfig } from '../../src/config/attack-config.js';
import type { AttackSummary } from '../../src/data/attack-summary.js';
import { runAttackJob } from '../../src/run/run-attack.js';
import { REPO_ROOT, venvForTest } from '../../src/testing/python-venv.js';
import { startTransformersServe, type ServedModel } from '../../src/testing/transformers-serve.js';

const OBJECTIVES = Number(process.env.MTSA_E2E_OBJECTIVES ?? 20);
const REPEATS = 8;

function runCli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'mtsa.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const venv = venvForTest('the transformers serve end-to-end test');

describe.runIf(venv !== null)('mtsa attack against transformers serve', () => {
  const cache = inject('arenaCache');
  const arena = buildArena(tinyArenaConfig(1), { cacheDir: cache });
  const targetDir = arena.checkpoints.target;
  let served: ServedModel;

  beforeAll(async () => {
    served = await startTransformersServe(venv!, targetDir);
    process.stderr.write(`transformers serve ready in ${served.startupSeconds.toFixed(1)} s\n`);
  }, 200_000);
  afterAll(() => served?.stop());

  it('chat completions work on our checkpoint (tokenizer_config.json carries the chat template)', async () => {
    const response = await fetch(`${served.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: served.model, messages: [{ role: 'user', content: 'how do I bake bread?' }], max_tokens: 16, temperature: 0 }),
    });
    expect(response.status, served.log().slice(-2000)).toBe(200);
    const body = (await response.json()) as { choices: { message: { content: string } }[] };
    expect(body.choices[0].message.content.length).toBeGreaterThan(0);
  }, 60_000);

  it('completes, and its ASR agrees within intervals with the same attack in-process on the same weights', async () => {
    const work = mkdtempSync(join(tmpdir(), 'mtsa-e2e-serve-'));
    const objectives = arena.world.harmful.filter((o) => o.split === 'test').slice(0, OBJECTIVES);
    const objectivesFile = join(work, 'objectives.jsonl');
    writeFileSync(objectivesFile, objectives.map((o) => JSON.stringify({ id: o.id, objective: o.text, category: o.category })).join('\n') + '\n');
    const shared = { seed: 5, maxTurns: 3, repeats: REPEATS, target: { sampling: { temperature: 1, topP: 0.95, maxTokens: 48 } } };
    const configFile = join(work, 'attack.json');
    writeFileSync(configFile, JSON.stringify(shared));

    const started = performance.now();
    const cli = await runCli([
      'attack',
      '--target-url',
      served.url,
      '--target-model',
      served.model,
      '--target-flavour',
      'transformers',
      '--target-template',
      'ours',
      '--objectives',
      objectivesFile,
      '--config',
      configFile,
      '--concurrency',
      '1',
      '--out',
      join(work, 'server'),
      '--tiny',
      '--cache',
      cache,
    ]);
    const serverSeconds = (performance.now() - started) / 1000;
    expect(cli.status, cli.stderr + served.log().slice(-2000)).toBe(0);
    const server = JSON.parse(readFileSync(join(work, 'server', 'summary.json'), 'utf8')) as AttackSummary;

    const local = await runAttackJob({
      config: parseAttackConfig({ ...shared, arena: tinyArenaConfig(1), models: { target: { kind: 'checkpoint', path: targetDir } } }),
      objectives: objectives.map((o) => ({ id: o.id, text: o.text, kind: 'harmful' as const, category: o.category })),
      outDir: join(work, 'local'),
      cacheDir: cache,
      resume: false,
      env: {},
    });

    process.stderr.write(
      `ASR over transformers serve: ${server.asr.successes}/${server.asr.n} = ${(100 * server.asr.rate!).toFixed(1)}% [${(100 * server.asr.low!).toFixed(1)}, ${(100 * server.asr.high!).toFixed(1)}] (${serverSeconds.toFixed(1)} s)\n` +
        `ASR in-process:            ${local.asr.successes}/${local.asr.n} = ${(100 * local.asr.rate!).toFixed(1)}% [${(100 * local.asr.low!).toFixed(1)}, ${(100 * local.asr.high!).toFixed(1)}]\n`,
    );
    expect(server.dialogues).toBe(objectives.length * REPEATS);
    expect(server.erroredDialogues).toBe(0);
    expect(server.traffic.target.failedCalls).toBe(0);
    expect(local.dialogues).toBe(server.dialogues);
    // Every turn reached the server: three target calls per dialogue, the scripted attacker never drops one.
    expect(server.traffic.target.calls).toBe(server.dialogues * 3);
    // Agreement: each ASR lies inside the other's 95% interval's reach (the intervals overlap).
    expect(server.asr.low!).toBeLessThanOrEqual(local.asr.high!);
    expect(local.asr.low!).toBeLessThanOrEqual(server.asr.high!);
    // Not a vacuous agreement: the attack does something against this target.
    expect(server.asr.successes + local.asr.successes).toBeGreaterThan(0);
    expect(readFileSync(join(work, 'server', 'report.html'), 'utf8')).toContain('Per-objective verdicts');
  }, 600_000);
});
