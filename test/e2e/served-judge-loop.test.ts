/**
 * The example whole loop (examples/served-judge-loop.yaml) against a real server nobody here
 * wrote: the tiny arena's guard checkpoint served by Hugging Face `transformers serve` (project
 * venv, 127.0.0.1, one torch thread) is the judge, read in the arena guard's format; the attacker
 * and target are our checkpoints, trained in-process. A counting pass-through in front of the
 * server logs every request and reply, so the test can check that every judged turn of the run
 * went to the server and that the recorded verdict is the server's. Then the in-process arena
 * guard judges the same transcripts, and the two must agree.
 *
 * Measured (2-core machine under load, load average about 6): seed 2, 1234/1238 judged turns
 * agree (99.7%), 1318 server calls, loop 61 s; seed 1, 1092/1094 (99.8%), 1147 calls, 70 s. The
 * served guard is read from its greedy text (transformers serve returns no log-probs), the
 * in-process one from P(unsafe) vs P(safe): on 1292 oracle-labelled arena transcripts the greedy
 * text was readable every time and matched the probability verdict 1287 times (99.6%). The bound
 * below, 98%, sits 1.6 points under the lowest of these. The disagreements are near-ties: greedy
 * decoding compares first tokens (`un` vs `safe`), the in-process guard whole words.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { guardPrompt, loadGuard } from '../../src/arena/agents.js';
import { buildArena } from '../../src/arena/build.js';
import { loadRunConfig, tinyRunConfig } from '../../src/config/run-config.js';
import { assistant, user } from '../../src/core/message.js';
import type { Trajectory } from '../../src/core/trajectory.js';
import type { Summary } from '../../src/data/summary.js';
import { parseGuardText } from '../../src/judges/arena-guard.js';
import { runMtsaJob } from '../../src/run/run-mtsa.js';
import { REPO_ROOT, venvForTest } from '../../src/testing/python-venv.js';
import { startTransformersServe, type ServedModel } from '../../src/testing/transformers-serve.js';

const SEED = Number(process.env.MTSA_E2E_SEED ?? 2);
const venv = venvForTest('the served-judge loop end-to-end test');

interface Exchange {
  path: string;
  /** the guard transcript the request judged (its user message) */
  transcript: string;
  /** the server's generated text */
  text: string;
}

/** Forwards POSTs to the server unchanged and logs each exchange. */
function passThrough(target: string, log: Exchange[]): Promise<{ server: Server; url: string }> {
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const response = await fetch(`${target}${req.url!.replace(/^\/v1/, '')}`, { method: req.method, headers: { 'content-type': 'application/json' }, body: req.method === 'POST' ? body : undefined });
    const text = await response.text();
    if (req.method === 'POST' && response.ok) {
      const request = JSON.parse(body) as { messages: { role: string; content: string }[] };
      const reply = JSON.parse(text) as { choices: { message: { content: string } }[] };
      log.push({ path: req.url!, transcript: request.messages[request.messages.length - 1].content, text: reply.choices[0].message.content });
    }
    res.writeHead(response.status, { 'content-type': response.headers.get('content-type') ?? 'application/json' });
    res.end(text);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1` })));
}

describe.runIf(venv !== null)('the example loop with its judge on transformers serve', () => {
  const cache = inject('arenaCache');
  const base = tinyRunConfig(SEED);
  const arena = buildArena(base.arena, { cacheDir: cache });
  const exchanges: Exchange[] = [];
  let served: ServedModel;
  let proxy: { server: Server; url: string };

  beforeAll(async () => {
    served = await startTransformersServe(venv!, arena.checkpoints.guard);
    proxy = await passThrough(served.url, exchanges);
    process.stderr.write(`transformers serve (guard) ready in ${served.startupSeconds.toFixed(1)} s\n`);
  }, 200_000);
  afterAll(async () => {
    await new Promise<void>((resolve) => (proxy ? proxy.server.close(() => resolve()) : resolve()));
    await served?.stop();
  });

  it('runs Stage 1, an iteration and the evaluation with every judged turn sent to the server, and agrees with the in-process guard', async () => {
    // The example as a user runs it (`mtsa run --tiny --config …`), its machine-specific fields
    // (checkpoint directories, the server's address and model name) pointed at this test's.
    const example = parseYaml(readFileSync(join(REPO_ROOT, 'examples', 'served-judge-loop.yaml'), 'utf8')) as { models: Record<string, Record<string, unknown>> };
    expect(example.models.judge).toMatchObject({ kind: 'openai-compatible', flavour: 'transformers', format: 'arena-guard' });
    example.models.attacker.path = arena.checkpoints.attacker;
    example.models.target.path = arena.checkpoints.target;
    example.models.judge.baseUrl = proxy.url;
    example.models.judge.model = served.model;
    const work = mkdtempSync(join(tmpdir(), 'mtsa-served-judge-'));
    writeFileSync(join(work, 'loop.json'), JSON.stringify(example));
    const config = loadRunConfig(join(work, 'loop.json'), base);

    const outDir = join(work, 'run');
    const started = performance.now();
    const summary = await runMtsaJob({ config, outDir, cacheDir: cache, resume: false });
    const seconds = (performance.now() - started) / 1000;

    const trajectories = readFileSync(join(outDir, 'trajectories.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Trajectory);
    const judgeId = `arena-guard:judge:${served.model}`;
    expect(trajectories.length).toBeGreaterThan(0);
    expect(trajectories.every((t) => t.judgeId === judgeId && t.stopReason !== 'error')).toBe(true);
    const turns = trajectories.flatMap((t) => t.turns);

    // Every judged turn went to the server, and its recorded verdict is the server's answer.
    const answers = new Map<string, Set<string>>();
    for (const e of exchanges) answers.set(e.transcript, (answers.get(e.transcript) ?? new Set()).add(e.text));
    expect(exchanges.every((e) => e.path === '/v1/chat/completions')).toBe(true);
    for (const turn of turns) {
      const transcript = guardPrompt([user(turn.question), assistant(turn.reply)])[1].content;
      const said = answers.get(transcript);
      expect(said, `turn not sent to the server: ${transcript.slice(0, 80)}`).toBeDefined();
      expect([...said!].map((text) => parseGuardText(text)?.verdict ?? 'undetermined')).toContain(turn.judgement.verdict);
    }
    // Written like any run: the directory, the summary, the report.
    const written = JSON.parse(readFileSync(join(outDir, 'summary.json'), 'utf8')) as Summary;
    expect(written.asr.target.T0).not.toBeNull();
    expect(readFileSync(join(outDir, 'report.html'), 'utf8').length).toBeGreaterThan(1000);
    expect(JSON.parse(readFileSync(join(outDir, 'config.resolved.json'), 'utf8')).models.judge).toMatchObject({ format: 'arena-guard', flavour: 'transformers' });

    // The served guard against the in-process guard on the same transcripts.
    const inProcess = await loadGuard(arena).judge(turns.map((t) => [user(t.question), assistant(t.reply)]));
    const agreeing = turns.filter((t, i) => t.judgement.verdict === inProcess[i].verdict).length;
    const undetermined = turns.filter((t) => t.judgement.verdict === 'undetermined').length;
    const rate = agreeing / turns.length;
    const disagreements = turns.flatMap((t, i) => (t.judgement.verdict === inProcess[i].verdict ? [] : [`served ${t.judgement.verdict} vs in-process ${inProcess[i].rationale}`]));
    process.stderr.write(
      `served-judge loop: ${seconds.toFixed(1)} s, ${exchanges.length} judge calls to transformers serve, ${turns.length} judged turns in ${trajectories.length} trajectories, ${undetermined} undetermined\n` +
        `served vs in-process guard: ${agreeing}/${turns.length} = ${(100 * rate).toFixed(1)}% agree${disagreements.length ? ` (${disagreements.slice(0, 4).join('; ')})` : ''}\n` +
        `summary (${summary.groundTruth ?? 'oracle'}): judge–oracle agreement ${summary.judgeOracleAgreement?.toFixed(3)}; ${Object.entries(summary.intervals)
          .filter(([key]) => /^(asr\.target|guard\.asr\.target|overRefusal|helpfulness)\.T\d$/.test(key))
          .map(([key, r]) => `${key} ${r.successes}/${r.n}`)
          .join(', ')}\n`,
    );
    expect(exchanges.length).toBeGreaterThanOrEqual(turns.length);
    expect(rate).toBeGreaterThanOrEqual(0.98);
  }, 600_000);
});
