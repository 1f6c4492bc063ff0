import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { user } from '../core/message.js';
import { FLAVOURS } from '../core/backends.js';
import { tinyArenaConfig } from '../arena/config.js';
import { ModelSpecSchema, ModelsConfigSchema } from '../config/model-spec.js';
import { parseRunConfig } from '../config/run-config.js';
import { buildModel, FACTORIES } from './build-models.js';
import { runMtsaJob } from './run-mtsa.js';

const context = (env: Record<string, string | undefined>, fetchImpl?: typeof fetch) => ({
  role: 'target' as const,
  arena: () => {
    throw new Error('not needed');
  },
  arenaConfig: tinyArenaConfig(1),
  seed: 1,
  env,
  source: 'test.yaml: models.target',
  ...(fetchImpl ? { fetch: fetchImpl } : {}),
});

describe('model specs', () => {
  it('a discriminated union on kind, with defaults; every kind has a factory', () => {
    expect(ModelsConfigSchema.parse({})).toEqual({ attacker: { kind: 'arena' }, target: { kind: 'arena' }, judge: { kind: 'arena' }, embedder: { kind: 'arena' } });
    const spec = ModelSpecSchema.parse({ kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:8000/v1', model: 'm' });
    expect(spec).toMatchObject({ flavour: 'generic', template: 'server', traffic: { concurrency: 8, maxRetries: 4, timeoutMs: 120_000 } });
    expect(Object.keys(FACTORIES).sort()).toEqual(ModelSpecSchema.options.map((o) => o.shape.kind.value).sort());
    expect(FLAVOURS).toContain('vllm');
  });

  it('config errors name the field; an API key pasted where its variable name belongs is refused', () => {
    expect(() => parseRunConfig({ models: { target: { kind: 'openai-compatible', baseUrl: 'http://x/v1', model: 'm', apiKeyEnv: 'sk-abc-123' } } }, 'run.yaml')).toThrow(
      /run\.yaml: field "models\.target\.apiKeyEnv": must be the NAME of an environment variable/,
    );
    expect(() => parseRunConfig({ models: { judge: { kind: 'gpu' } } }, 'run.yaml')).toThrow(/run\.yaml: field "models\.judge/);
    expect(() => parseRunConfig({ models: { target: { kind: 'checkpoint', path: 'x', extra: 1 } } }, 'run.yaml')).toThrow(/unknown field "models\.target\.extra"/);
  });

  it('a server spec reads its key from the named variable (missing: a clear error) and fills chat, judge and embedder', async () => {
    const spec = ModelSpecSchema.parse({ kind: 'openai-compatible', baseUrl: 'http://server/v1', model: 'm', flavour: 'vllm', apiKeyEnv: 'MY_KEY' });
    expect(() => buildModel(spec, context({}))).toThrow(/test\.yaml: models\.target: apiKeyEnv names the environment variable MY_KEY, which is not set/);
    const seen: string[] = [];
    const fakeFetch = (async (_url: string, init?: RequestInit) => {
      seen.push(new Headers(init?.headers).get('authorization') ?? '');
      return new Response(JSON.stringify({ choices: [{ message: { content: 'ok' }, finish_reason: 'stop' }] }), { status: 200 });
    }) as unknown as typeof fetch;
    const built = buildModel(spec, context({ MY_KEY: 'secret-key-1' }, fakeFetch));
    expect(built.chat && built.judge && built.embedder && built.traffic).toBeTruthy();
    expect(built.policy).toBeUndefined();
    const [r] = await built.chat!.generate([{ messages: [user('q')], sampling: { temperature: 0, topP: 1, maxTokens: 4 } }]);
    expect(r.text).toBe('ok');
    expect(seen).toEqual(['Bearer secret-key-1']);
  });

  it('mtsa run trains the attacker and target, so a server there is refused with the reason', async () => {
    const config = parseRunConfig({ arena: tinyArenaConfig(1), models: { target: { kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:9/v1', model: 'm' } } });
    expect(config.models.target.kind).toBe('openai-compatible');
    // The check happens before any training; the arena build is the cached tiny arena of the test run.
    await expect(runMtsaJob({ config, outDir: join(mkdtempSync(join(tmpdir(), 'mtsa-spec-')), 'run'), cacheDir: inject('arenaCache'), resume: false })).rejects.toThrow(
      /config: models\.target: target:m cannot serve here: the target is trained by mtsa run, so it must run in-process \(kind arena or checkpoint\)/,
    );
  }, 120_000);
});
