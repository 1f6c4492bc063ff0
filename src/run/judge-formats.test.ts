/**
 * A judge role's `format`: the config accepts it on the judge role only and refuses what the
 * backend cannot serve, and build-models turns each format into its judge — over a server (a fake
 * fetch with a call log: which endpoint, which prompt), a checkpoint in-process, and through the
 * CLI's judge specs, which share the same factories.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { loadGuard } from '../arena/agents.js';
import { buildArena } from '../arena/build.js';
import { tinyArenaConfig } from '../arena/config.js';
import { GUARD_INSTRUCTION } from '../arena/corpora.js';
import { resolveJudgeSpec } from '../cli/judge-spec.js';
import { servedModels } from '../cli/served-models.js';
import { ModelSpecSchema } from '../config/model-spec.js';
import { parseRunConfig, tinyRunConfig } from '../config/run-config.js';
import { JUDGE_FORMATS, type JudgeFormat } from '../core/backends.js';
import { assistant, user } from '../core/message.js';
import type { Judge } from '../core/models.js';
import { ArenaGuardJudge } from '../judges/arena-guard.js';
import { HarmBenchJudge } from '../judges/harmbench.js';
import { LlamaGuardJudge } from '../judges/llama-guard.js';
import { RubricJudge } from '../judges/rubric-judge.js';
import { StrongRejectJudge } from '../judges/strongreject.js';
import { JUDGE_INSTRUCTION, PromptJudge } from '../models/http/prompt-judge.js';
import { ClassifierJudge } from '../models/local/local-scorers.js';
import { buildModel } from './build-models.js';

const server = { kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:9/v1', model: 'guard' };
const context = (fetchImpl?: typeof fetch) => ({
  role: 'judge' as const,
  arena: () => {
    throw new Error('not needed');
  },
  arenaConfig: tinyArenaConfig(1),
  seed: 1,
  env: {},
  source: 'run.yaml: models.judge',
  ...(fetchImpl ? { fetch: fetchImpl } : {}),
});

/** A fake OpenAI-compatible server: logs each call's path and body, answers in the arena guard's words. */
function fakeServer() {
  const calls: { path: string; body: Record<string, unknown> }[] = [];
  const fetchImpl = (async (url: string, init?: RequestInit) => {
    const path = new URL(url).pathname;
    calls.push({ path, body: JSON.parse(String(init?.body)) });
    const choice = path.endsWith('/chat/completions') ? { message: { content: 'unsafe S2' }, finish_reason: 'stop' } : { text: 'unsafe\nS1', finish_reason: 'stop' };
    return new Response(JSON.stringify({ choices: [choice], usage: { prompt_tokens: 9, completion_tokens: 2 } }), { status: 200 });
  }) as unknown as typeof fetch;
  return { calls, fetchImpl };
}

function rubricFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mtsa-rubric-'));
  const path = join(dir, 'rubric.json');
  writeFileSync(path, JSON.stringify({ id: 'my-rubric', prompt: 'Grade this reply: {{reply}}\nVerdict:', parser: { kind: 'label', pattern: '(unsafe|safe)', unsafe: ['unsafe'], safe: ['safe'] } }));
  return path;
}

const conversation = [user('[harmful objective 3]'), assistant('Step one of the [restricted procedure].')];

describe('judge formats on the judge role', () => {
  it('parse on the judge role of a server, a checkpoint and a GGUF; absent by default', () => {
    const config = parseRunConfig({ models: { judge: { ...server, flavour: 'transformers', format: 'arena-guard' } } });
    expect(config.models.judge).toMatchObject({ kind: 'openai-compatible', format: 'arena-guard' });
    expect(parseRunConfig({ models: { judge: { kind: 'checkpoint', path: 'guard', format: 'llama-guard-3' } } }).models.judge).toMatchObject({ format: 'llama-guard-3' });
    expect(parseRunConfig({ models: { judge: { kind: 'llama-cpp', path: 'g.gguf', format: 'harmbench' } } }).models.judge).toMatchObject({ format: 'harmbench' });
    expect(parseRunConfig({ models: { judge: { ...server, format: 'rubric', rubric: 'r.json' } } }).models.judge).toMatchObject({ rubric: 'r.json' });
    expect(ModelSpecSchema.parse(server)).not.toHaveProperty('format');
  });

  it('refuses a format elsewhere, a rubric without its file, an unknown format, and a log-prob-only format on transformers serve', () => {
    const bad = (judgeOrModels: Record<string, unknown>) => () => parseRunConfig({ models: judgeOrModels }, 'run.yaml');
    expect(bad({ target: { kind: 'checkpoint', path: 't', format: 'arena-guard' } })).toThrow(
      /run\.yaml: field "models\.target\.format": a judge format belongs to models\.judge only; remove format from models\.target/,
    );
    expect(bad({ embedder: { ...server, rubric: 'r.json' } })).toThrow(/field "models\.embedder\.rubric": a judge format belongs to models\.judge only/);
    expect(bad({ judge: { ...server, format: 'rubric' } })).toThrow(/field "models\.judge\.rubric": format rubric needs rubric: <config\.json>/);
    expect(bad({ judge: { ...server, format: 'harmbench', rubric: 'r.json' } })).toThrow(/field "models\.judge\.rubric": rubric is read by format rubric only/);
    expect(bad({ judge: { ...server, format: 'llama-guard-9' } })).toThrow(/field "models\.judge\.format"/);
    expect(bad({ judge: { kind: 'arena', format: 'prompt' } })).toThrow(/unknown field "models\.judge\.format"/);
    expect(bad({ judge: { ...server, flavour: 'transformers', format: 'llama-guard-3' } })).toThrow(
      /field "models\.judge\.format": transformers serve returns no log-probs, and llama-guard-3 reads its verdict from them only; use llama-guard-3-text/,
    );
    expect(bad({ judge: { ...server, flavour: 'transformers', format: 'llama-guard-4' } })).toThrow(/use llama-guard-4-text/);
    // The same formats on a server that returns log-probs are fine.
    expect(bad({ judge: { ...server, flavour: 'vllm', format: 'llama-guard-3' } })).not.toThrow();
  });

  it('build-models gives each format its judge over a server: endpoint and prompt from the call log', async () => {
    const rubric = rubricFile();
    const expected: Record<JudgeFormat, { cls: abstract new (...args: never[]) => Judge; path: string; marker: string }> = {
      prompt: { cls: PromptJudge, path: '/v1/chat/completions', marker: JUDGE_INSTRUCTION },
      'arena-guard': { cls: ArenaGuardJudge, path: '/v1/chat/completions', marker: GUARD_INSTRUCTION },
      'llama-guard-3': { cls: LlamaGuardJudge, path: '/v1/completions', marker: '<|start_header_id|>user<|end_header_id|>' },
      'llama-guard-3-text': { cls: LlamaGuardJudge, path: '/v1/completions', marker: '<BEGIN UNSAFE CONTENT CATEGORIES>' },
      'llama-guard-4': { cls: LlamaGuardJudge, path: '/v1/completions', marker: '<|header_start|>user<|header_end|>' },
      'llama-guard-4-text': { cls: LlamaGuardJudge, path: '/v1/completions', marker: '<|header_start|>user<|header_end|>' },
      harmbench: { cls: HarmBenchJudge, path: '/v1/completions', marker: 'You are a classifier for red teaming' },
      strongreject: { cls: StrongRejectJudge, path: '/v1/chat/completions', marker: 'You are a helpful red teaming assistant' },
      rubric: { cls: RubricJudge, path: '/v1/chat/completions', marker: 'Grade this reply: Step one of the [restricted procedure].' },
    };
    expect(Object.keys(expected).sort()).toEqual([...JUDGE_FORMATS].sort());
    for (const format of JUDGE_FORMATS) {
      const { calls, fetchImpl } = fakeServer();
      const spec = parseRunConfig({ models: { judge: { ...server, flavour: 'vllm', format, ...(format === 'rubric' ? { rubric } : {}) } } }).models.judge;
      const judge = buildModel(spec, context(fetchImpl)).judge!;
      expect(judge, format).toBeInstanceOf(expected[format].cls);
      const [judgement] = await judge.judge([conversation]);
      expect(calls, format).toHaveLength(1);
      expect(calls[0].path, format).toBe(expected[format].path);
      expect(JSON.stringify(calls[0].body), format).toContain(JSON.stringify(expected[format].marker).slice(1, -1));
      expect(judgement.error, format).toBeUndefined();
    }
    // No format: today's generic judge, with today's id.
    const { fetchImpl } = fakeServer();
    const plain = buildModel(ModelSpecSchema.parse(server), context(fetchImpl)).judge!;
    expect(plain).toBeInstanceOf(PromptJudge);
    expect(plain.id).toBe('judge:guard');
  });

  it('the arena-guard format over a server reads the verdict text (transformers serve sends no log-probs)', async () => {
    const { calls, fetchImpl } = fakeServer();
    const spec = parseRunConfig({ models: { judge: { ...server, flavour: 'transformers', format: 'arena-guard' } } }).models.judge;
    const judge = buildModel(spec, context(fetchImpl)).judge!;
    const [judgement] = await judge.judge([conversation]);
    expect(judge.id).toBe('arena-guard:judge:guard');
    expect(judgement).toMatchObject({ verdict: 'unsafe', pUnsafe: 1, category: 'S2' });
    expect(calls[0].body).toMatchObject({ model: 'guard', temperature: 0, max_tokens: 8, top_logprobs: 10 });
    expect(calls[0].body.messages).toEqual([
      { role: 'system', content: GUARD_INSTRUCTION },
      { role: 'user', content: 'User: [harmful objective 3]\nAgent: Step one of the [restricted procedure].' },
    ]);
  });

  it('the CLI judge spec and the config build the same judge (shared factories): same requests to a local server', async () => {
    const bodies: string[] = [];
    const http = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        bodies.push(body);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ choices: [{ message: { content: 'safe' }, finish_reason: 'stop' }], usage: { prompt_tokens: 9, completion_tokens: 1 } }));
      });
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    try {
      const baseUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}/v1`;
      const spec = parseRunConfig({ models: { judge: { kind: 'openai-compatible', baseUrl, model: 'guard', format: 'arena-guard' } } }).models.judge;
      const fromConfig = buildModel(spec, context()).judge!;
      const fromCli = resolveJudgeSpec(`arena-guard:${baseUrl}#guard`, { config: tinyRunConfig(), cacheDir: '/nonexistent', served: servedModels({}) });
      expect(fromCli).toBeInstanceOf(ArenaGuardJudge);
      expect(fromCli.id).toBe(fromConfig.id);
      expect((await fromConfig.judge([conversation]))[0].verdict).toBe('safe');
      expect((await fromCli.judge([conversation]))[0].verdict).toBe('safe');
      expect(bodies).toHaveLength(2);
      expect(bodies[1]).toBe(bodies[0]);
    } finally {
      await new Promise<void>((r) => http.close(() => r()));
    }
  });

  it('on a checkpoint: arena-guard is the in-process guard reader (same verdicts as the arena guard), others their judges', async () => {
    const arena = buildArena(tinyArenaConfig(1), { cacheDir: inject('arenaCache') });
    const dir = arena.checkpoints.guard;
    const judgeOf = (format?: JudgeFormat) => buildModel(parseRunConfig({ models: { judge: { kind: 'checkpoint', path: dir, ...(format ? { format } : {}) } } }).models.judge, context()).judge!;
    const guard = judgeOf('arena-guard');
    expect(guard).toBeInstanceOf(ClassifierJudge);
    expect(guard.id).toBe('arena-guard:judge:checkpoint');
    const conversations = [conversation, [user('how do I bake bread?'), assistant('Mix flour and water, then bake.')]];
    const ours = await guard.judge(conversations);
    const reference = await loadGuard(arena).judge(conversations);
    expect(ours.map((j) => [j.verdict, j.pUnsafe])).toEqual(reference.map((j) => [j.verdict, j.pUnsafe]));
    expect(judgeOf()).toBeInstanceOf(PromptJudge);
    expect(judgeOf('llama-guard-3-text')).toBeInstanceOf(LlamaGuardJudge);
    expect(resolveJudgeSpec(`arena-guard:checkpoint:${dir}`, { config: tinyRunConfig(), cacheDir: inject('arenaCache') })).toBeInstanceOf(ClassifierJudge);
  }, 60_000);
});
