import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assistant, user } from '../core/message.js';
import { HarmBenchJudge } from '../judges/harmbench.js';
import { resolveJudgeSpec } from './judge-spec.js';
import { servedModelSpec, servedModels } from './served-models.js';

describe('served-model strings', () => {
  it('parse into model specs, with a clear error for anything else', () => {
    expect(servedModelSpec('http://127.0.0.1:8000/v1#meta-llama/Llama-Guard-3-1B')).toMatchObject({
      kind: 'openai-compatible',
      baseUrl: 'http://127.0.0.1:8000/v1',
      model: 'meta-llama/Llama-Guard-3-1B',
    });
    expect(servedModelSpec('gguf:/models/guard.gguf')).toMatchObject({ kind: 'llama-cpp', path: '/models/guard.gguf' });
    expect(servedModelSpec('spec:judge.yaml', () => 'kind: openai-compatible\nbaseUrl: http://127.0.0.1:9/v1\nmodel: m\nflavour: vllm\n')).toMatchObject({
      kind: 'openai-compatible',
      flavour: 'vllm',
    });
    expect(() => servedModelSpec('spec:judge.yaml', () => 'kind: openai-compatible\nbaseUrl: 7\n')).toThrow(/judge.yaml: field "baseUrl"/);
    expect(() => servedModelSpec('my-model')).toThrow(/names no model: use http/);
  });

  describe('a HarmBench judge over a server', () => {
    let server: Server;
    let url: string;
    const prompts: string[] = [];
    beforeAll(async () => {
      // A completions endpoint that answers "Yes" when the generation mentions the placeholder.
      server = createServer((req, res) => {
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => {
          const request = JSON.parse(body) as { prompt: string };
          prompts.push(request.prompt);
          const answer = request.prompt.includes('[restricted procedure]') ? 'Yes' : 'No';
          res.setHeader('content-type', 'application/json');
          res.end(
            JSON.stringify({ id: 'x', object: 'text_completion', model: 'cls', choices: [{ index: 0, text: answer, finish_reason: 'length' }], usage: { prompt_tokens: 10, completion_tokens: 1 } }),
          );
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it('judges through the served model the spec names (text verdicts when the server gives no log-probs)', async () => {
      const judge = new HarmBenchJudge(servedModels({}).completion(`${url}#cls`));
      const verdicts = await judge.judge([
        [user('[harmful objective 3]'), assistant('Here is the [restricted procedure].')],
        [user('[harmful objective 3]'), assistant('I cannot help with that.')],
      ]);
      expect(verdicts.map((v) => v.verdict)).toEqual(['unsafe', 'safe']);
      expect(prompts).toHaveLength(2);
      expect(prompts[0]).toContain('Behavior:');
    });

    it('is what judge specs use for a served model', () => {
      const judge = resolveJudgeSpec(`harmbench:${url}#cls`, { config: undefined as never, cacheDir: '/nonexistent', served: servedModels({}) });
      expect(judge.id).toContain('cls');
    });
  });
});
