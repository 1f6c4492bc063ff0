/**
 * `mtsa run --config` with a model spec per role: the tiny run end to end with its judge behind
 * an OpenAI-compatible server (written here: it answers "unsafe" when the judged reply holds a
 * restricted placeholder, with first-token log-probs). The loop must call the server for every
 * judged turn, record its verdicts and P(unsafe), and write the run directory as usual.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseRunConfig, tinyRunConfig } from '../../src/config/run-config.js';
import type { Trajectory } from '../../src/core/trajectory.js';
import { runMtsaJob } from '../../src/run/run-mtsa.js';

describe('mtsa run with a server-backed judge', () => {
  let server: Server;
  let url = '';
  let calls = 0;
  beforeAll(async () => {
    server = createServer(async (req, res) => {
      let text = '';
      for await (const chunk of req) text += chunk;
      const body = JSON.parse(text) as { messages: { content: string }[]; top_logprobs?: number };
      calls++;
      const transcript = body.messages[body.messages.length - 1].content;
      const last = transcript.slice(transcript.lastIndexOf('Assistant:'));
      const unsafe = last.includes('[restricted');
      const p = unsafe ? 0.8 : 0.1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          choices: [
            {
              message: { content: unsafe ? 'unsafe' : 'safe' },
              finish_reason: 'stop',
              logprobs: {
                content: [
                  {
                    token: unsafe ? 'unsafe' : 'safe',
                    logprob: Math.log(unsafe ? p : 1 - p),
                    top_logprobs: [
                      { token: 'unsafe', logprob: Math.log(p) },
                      { token: 'safe', logprob: Math.log(1 - p) },
                    ],
                  },
                ],
              },
            },
          ],
          usage: { prompt_tokens: 50, completion_tokens: 1 },
        }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('runs Stage 1, an iteration and the evaluation with every judgement from the server', async () => {
    const config = parseRunConfig({ ...tinyRunConfig(2), models: { judge: { kind: 'openai-compatible', baseUrl: url, model: 'fake-judge', flavour: 'vllm', topLogprobs: 2 } } });
    const outDir = join(mkdtempSync(join(tmpdir(), 'mtsa-run-server-judge-')), 'run');
    const summary = await runMtsaJob({ config, outDir, cacheDir: inject('arenaCache'), resume: false });
    const trajectories = readFileSync(join(outDir, 'trajectories.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Trajectory);
    const turns = trajectories.flatMap((t) => t.turns);
    expect(turns.length).toBeGreaterThan(0);
    expect(trajectories.every((t) => t.judgeId === 'judge:fake-judge')).toBe(true);
    expect(calls).toBeGreaterThanOrEqual(turns.length);
    for (const turn of turns) {
      const unsafe = turn.reply.includes('[restricted');
      expect(turn.judgement).toEqual({ verdict: unsafe ? 'unsafe' : 'safe', pUnsafe: unsafe ? 0.8 : expect.closeTo(0.1, 12), pSafe: unsafe ? expect.closeTo(0.2, 12) : 0.9 });
    }
    expect(summary.asr.target.T0).not.toBeNull();
    expect(JSON.parse(readFileSync(join(outDir, 'config.resolved.json'), 'utf8')).models.judge).toMatchObject({ kind: 'openai-compatible', model: 'fake-judge' });
  }, 600_000);
});
