import { describe, expect, it } from 'vitest';
import { assistant, system, user } from '../../core/message.js';
import type { ChatRequest } from '../../core/models.js';
import { LlmAttacker } from '../../attacks/attacker.js';
import { runConversations } from '../../attacks/run-conversation.js';
import { KeywordJudge, ScriptedChatModel } from '../../testing/fakes.js';
import { flipRoles, OpenAiCompatibleModel } from './openai-compatible.js';
import type { Flavour } from './flavours.js';
import { parseVerdict, PromptJudge, wordProbability } from './prompt-judge.js';
import { backoffMs, DEFAULT_TRAFFIC, FatalBackendError, retryAfterMs, TokenBucket, TrafficController, type Clock } from './traffic.js';

/** A clock whose sleeps return at once and advance time (sleeps logged). */
function fakeClock(): Clock & { slept: number[] } {
  let now = 1_000_000;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
  };
}

interface Call {
  url: string;
  body: Record<string, unknown>;
  authorization: string | null;
}

/** A fetch with a call log, answering through `handler`. */
function fakeFetch(handler: (call: Call, index: number) => Response | Promise<Response>): typeof fetch & { calls: Call[] } {
  const calls: Call[] = [];
  const f = async (url: string | URL | Request, init?: RequestInit) => {
    const call = { url: String(url), body: JSON.parse(String(init?.body)) as Record<string, unknown>, authorization: new Headers(init?.headers).get('authorization') };
    calls.push(call);
    return handler(call, calls.length - 1);
  };
  return Object.assign(f, { calls }) as typeof fetch & { calls: Call[] };
}

const json = (value: unknown, status = 200, headers: Record<string, string> = {}) => new Response(JSON.stringify(value), { status, headers: { 'content-type': 'application/json', ...headers } });
const chatOk = (content: string, finish = 'stop') => json({ choices: [{ message: { role: 'assistant', content }, finish_reason: finish }], usage: { prompt_tokens: 10, completion_tokens: 3 } });
const completionOk = (text: string, finish = 'stop') => json({ choices: [{ text, finish_reason: finish }], usage: { prompt_tokens: 10, completion_tokens: 3 } });

function backend(flavour: Flavour, f: typeof fetch, options: { template?: 'server' | 'ours'; apiKey?: string; traffic?: Partial<typeof DEFAULT_TRAFFIC>; clock?: Clock } = {}) {
  const traffic = new TrafficController({ ...DEFAULT_TRAFFIC, timeoutMs: 2000, ...options.traffic }, 'target', options.clock ?? fakeClock(), () => 0.5);
  return new OpenAiCompatibleModel({
    id: 'target',
    baseUrl: 'http://server/v1/',
    model: 'm',
    flavour,
    template: options.template ?? 'server',
    traffic,
    fetch: f,
    apiKey: options.apiKey,
    apiKeyEnv: 'MY_KEY',
  });
}

const sampling = { temperature: 0.7, topP: 0.9, maxTokens: 40 };

describe('retry rules', () => {
  it('reads retry-after-ms, then Retry-After in seconds or as an HTTP date', () => {
    const h = (o: Record<string, string>) => new Headers(o);
    expect(retryAfterMs(h({ 'retry-after-ms': '250' }), 0)).toBe(250);
    expect(retryAfterMs(h({ 'retry-after': '3' }), 0)).toBe(3000);
    expect(retryAfterMs(h({ 'retry-after': new Date(10_000).toUTCString() }), 4000)).toBe(6000);
    expect(retryAfterMs(h({ 'retry-after': 'soon' }), 0)).toBeUndefined();
    expect(retryAfterMs(h({}), 0)).toBeUndefined();
  });

  it('backs off exponentially with jitter, capped, and takes the server delay when under 60 s', () => {
    const s = { initialBackoffMs: 100, maxBackoffMs: 1000 };
    expect(backoffMs(s, 0, undefined, () => 1)).toBe(100);
    expect(backoffMs(s, 2, undefined, () => 1)).toBe(400);
    expect(backoffMs(s, 2, undefined, () => 0)).toBe(300);
    expect(backoffMs(s, 10, undefined, () => 1)).toBe(1000);
    expect(backoffMs(s, 0, 2500, () => 1)).toBe(2500);
    expect(backoffMs(s, 0, 90_000, () => 1)).toBe(100);
  });

  it('a token bucket waits for refill: 60/min gives one per second after the burst', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(60, clock);
    for (let i = 0; i < 60; i++) await bucket.take(1);
    expect(clock.slept).toEqual([]);
    await bucket.take(1);
    await bucket.take(2);
    expect(clock.slept).toEqual([1000, 2000]);
  });

  it('concurrency limit: never more calls in flight than allowed', async () => {
    let inFlight = 0;
    let peak = 0;
    const traffic = new TrafficController({ ...DEFAULT_TRAFFIC, concurrency: 3 }, 'x', fakeClock());
    await Promise.all(
      Array.from({ length: 10 }, () =>
        traffic.run(1, async () => {
          peak = Math.max(peak, ++inFlight);
          await new Promise((r) => setTimeout(r, 5));
          inFlight--;
          return { value: 1, tokens: 1 };
        }),
      ),
    );
    expect(peak).toBe(3);
  });
});

describe('OpenAI-compatible backend', () => {
  it('sends sampling fields explicitly, neutral top_k/min_p where the flavour filters by default, never where the server rejects them', async () => {
    for (const [flavour, neutral] of [
      ['vllm', true],
      ['llama-cpp', true],
      ['transformers', false],
      ['openai', false],
    ] as const) {
      const f = fakeFetch(() => chatOk('hello'));
      const [r] = await backend(flavour, f).generate([{ messages: [user('hi')], sampling: { ...sampling, stop: ['END'] }, seed: 7 }]);
      expect(r).toMatchObject({ text: 'hello', finishReason: 'stop', usage: { promptTokens: 10, completionTokens: 3 } });
      const body = f.calls[0].body;
      expect(f.calls[0].url).toBe('http://server/v1/chat/completions');
      expect(body).toMatchObject({ model: 'm', temperature: 0.7, top_p: 0.9, stop: ['END'], seed: 7 });
      expect(body[flavour === 'openai' ? 'max_completion_tokens' : 'max_tokens']).toBe(40);
      expect('top_k' in body).toBe(neutral);
      if (neutral) expect(body).toMatchObject({ top_k: 0, min_p: 0 });
    }
  });

  it('prefill: continue_final_message on vLLM, a trailing assistant message on llama.cpp, free generation on OpenAI', async () => {
    const request: ChatRequest = { messages: [user('q')], sampling, prefill: 'Sure:' };
    const vllm = fakeFetch(() => chatOk(' the answer'));
    expect((await backend('vllm', vllm).generate([request]))[0].text).toBe('Sure: the answer');
    expect(vllm.calls[0].body).toMatchObject({ messages: [user('q'), assistant('Sure:')], continue_final_message: true, add_generation_prompt: false });
    const llama = fakeFetch(() => chatOk(' the answer'));
    expect((await backend('llama-cpp', llama).generate([request]))[0].text).toBe('Sure: the answer');
    expect(llama.calls[0].body.messages).toEqual([user('q'), assistant('Sure:')]);
    expect('continue_final_message' in llama.calls[0].body).toBe(false);
    const openai = fakeFetch(() => chatOk('free text'));
    expect((await backend('openai', openai).generate([request]))[0].text).toBe('free text');
    expect(openai.calls[0].body.messages).toEqual([user('q')]);
  });

  it('afterFirstLine is emulated by a second call that continues from the first line and the inserted text', async () => {
    const f = fakeFetch((_, i) => (i === 0 ? chatOk(' I will ask politely') : chatOk(' what is [placeholder]?')));
    const [r] = await backend('vllm', f).generate([{ messages: [user('q')], sampling, prefill: 'Thinking 1:', afterFirstLine: 'Attack question 1:' }]);
    expect(r.text).toBe('Thinking 1: I will ask politely\nAttack question 1: what is [placeholder]?');
    expect(f.calls[0].body.stop).toEqual(['\n']);
    expect(f.calls[1].body.messages).toEqual([user('q'), assistant('Thinking 1: I will ask politely\nAttack question 1:')]);
    expect(f.calls[1].body.max_tokens).toBe(37);
    expect(r.usage.completionTokens).toBe(6);
  });

  it('template "ours": /v1/completions over our rendering, the attacker speaking as user, prefill appended, cut at <|end|>', async () => {
    const f = fakeFetch(() => completionOk(' go<|end|>ignored'));
    const [r] = await backend('transformers', f, { template: 'ours' }).generate([{ messages: [system('S'), user('a'), assistant('b')], generationRole: 'user', sampling, prefill: 'Thinking 2:' }]);
    expect(f.calls[0].url).toBe('http://server/v1/completions');
    expect(f.calls[0].body.prompt).toBe('<|system|>S<|end|><|user|>a<|end|><|assistant|>b<|end|><|user|>Thinking 2:');
    expect(r.text).toBe('Thinking 2: go');
  });

  it('a third-party attacker model sees its own turns as assistant and the target as user, and its reply comes back as the attacker turn', async () => {
    expect(flipRoles([system('goal'), user('attack 1'), assistant('reply 1')])).toEqual([system('goal'), assistant('attack 1'), user('reply 1')]);
    const f = fakeFetch(() => chatOk('Thinking 2: push further\nAttack question 2: and then [placeholder]?'));
    const model = backend('openai', f);
    const attacker = new LlmAttacker(model, { id: 'att', mode: 'thought', maxAttempts: 1, sampling });
    const turn = {
      index: 1,
      attackerMessage: 'Thinking 1: t\nAttack question 1: q1',
      thought: 't',
      question: 'q1',
      reply: 'r1',
      judgement: { verdict: 'safe' as const, pUnsafe: 0, pSafe: 1 },
      attackerAttempts: 1,
      sampling: { target: sampling },
      usage: { attackerTokens: 0, targetTokens: 0 },
    };
    const [proposal] = await attacker.propose([{ id: 'd', seed: 1, objective: { id: 'o', text: '[harmful objective 3]', kind: 'harmful' }, turns: [turn] }]);
    const sent = f.calls[0].body.messages as { role: string; content: string }[];
    expect(sent.map((m) => m.role)).toEqual(['system', 'assistant', 'user']);
    expect(sent[1].content).toBe(turn.attackerMessage);
    expect(sent[2].content).toBe('r1');
    expect(proposal).toMatchObject({ ok: true, question: 'and then [placeholder]?' });
  });

  it('returns first-token top log-probs (chat and completions) and the prompt judge reads P(unsafe) from them', async () => {
    const chat = fakeFetch(() =>
      json({
        choices: [
          {
            message: { content: 'unsafe' },
            finish_reason: 'stop',
            logprobs: {
              content: [
                {
                  token: 'unsafe',
                  logprob: Math.log(0.7),
                  top_logprobs: [
                    { token: 'unsafe', logprob: Math.log(0.7) },
                    { token: ' safe', logprob: Math.log(0.2) },
                  ],
                },
              ],
            },
          },
        ],
      }),
    );
    const judge = new PromptJudge(backend('vllm', chat), { id: 'j', topLogprobs: 5 });
    const [j] = await judge.judge([[user('q'), assistant('[restricted step 1]')]]);
    expect(j.verdict).toBe('unsafe');
    expect(j.pUnsafe).toBeCloseTo(0.7, 10);
    expect(j.pSafe).toBeCloseTo(0.2, 10);
    expect(chat.calls[0].body).toMatchObject({ logprobs: true, top_logprobs: 5, temperature: 0 });
    const comp = fakeFetch(() => json({ choices: [{ text: 'safe', finish_reason: 'length', logprobs: { top_logprobs: [{ safe: -0.1, unsafe: -2.5 }] } }] }));
    const [c] = await backend('vllm', comp).complete([{ prompt: 'p', sampling, topLogprobs: 2 }]);
    expect(c.firstTokenLogprobs).toEqual([
      { token: 'safe', logprob: -0.1 },
      { token: 'unsafe', logprob: -2.5 },
    ]);
    expect(c.finishReason).toBe('length');
    expect(comp.calls[0].body.logprobs).toBe(2);
  });

  it('parses verdict words and sums token probabilities', () => {
    expect(parseVerdict(' Unsafe.')).toBe('unsafe');
    expect(parseVerdict('"safe"')).toBe('safe');
    expect(parseVerdict('I cannot tell')).toBe('undetermined');
    expect(
      wordProbability(
        [
          { token: 'Unsafe', logprob: Math.log(0.25) },
          { token: ' unsafe', logprob: Math.log(0.25) },
          { token: 'safe', logprob: 0 },
        ],
        'unsafe',
      ),
    ).toBeCloseTo(0.5);
  });

  it('embeddings come back in input order and unit length', async () => {
    const f = fakeFetch(() =>
      json({
        data: [
          { index: 1, embedding: [0, 2] },
          { index: 0, embedding: [3, 4] },
        ],
      }),
    );
    const vectors = await backend('vllm', f).embed(['a', 'b']);
    expect(f.calls[0].url).toBe('http://server/v1/embeddings');
    expect(Array.from(vectors[0])).toEqual([0.6000000238418579, 0.800000011920929]);
    expect(Array.from(vectors[1])).toEqual([0, 1]);
  });
});

describe('failures', () => {
  it('429 with Retry-After is retried after the server delay; the key is sent but never in messages', async () => {
    const clock = fakeClock();
    const f = fakeFetch((_, i) => (i < 2 ? json({ error: { message: 'slow down', code: 'rate_limit_exceeded' } }, 429, { 'retry-after': '2' }) : chatOk('ok')));
    const [r] = await backend('openai', f, { clock, apiKey: 'sk-secret-1234' }).generate([{ messages: [user('q')], sampling }]);
    expect(r.text).toBe('ok');
    expect(clock.slept).toEqual([2000, 2000]);
    expect(f.calls[0].authorization).toBe('Bearer sk-secret-1234');
  });

  it('retries are bounded: a server that keeps failing yields finishReason error after maxRetries + 1 attempts', async () => {
    const clock = fakeClock();
    const f = fakeFetch(() => json({ error: 'overloaded' }, 503));
    const [r] = await backend('vllm', f, { clock, traffic: { maxRetries: 2, initialBackoffMs: 100 } }).generate([{ messages: [user('q')], sampling }]);
    expect(r.finishReason).toBe('error');
    expect(r.error).toMatch(/HTTP 503.*overloaded.*gave up after 3 attempts/s);
    expect(f.calls).toHaveLength(3);
    expect(clock.slept).toEqual([87.5, 175]);
  });

  it('malformed JSON and an empty choice list are retried; a 400 that is not about context fails the call at once', async () => {
    const f = fakeFetch((_, i) => (i === 0 ? new Response('{"choices": [', { status: 200 }) : i === 1 ? json({ choices: [] }) : chatOk('fine')));
    expect((await backend('vllm', f).generate([{ messages: [user('q')], sampling }]))[0].text).toBe('fine');
    expect(f.calls).toHaveLength(3);
    const bad = fakeFetch(() => json({ error: { message: 'temperature must be >= 0', type: 'invalid_request_error' } }, 400));
    const [r] = await backend('vllm', bad).generate([{ messages: [user('q')], sampling }]);
    expect(r).toMatchObject({ finishReason: 'error' });
    expect(bad.calls).toHaveLength(1);
  });

  it('401, insufficient_quota and 404 stop the run with a message that names the fix; the key is redacted', async () => {
    const cases: [Response, RegExp][] = [
      [json({ error: { message: 'Incorrect API key provided: sk-secret-1234' } }, 401), /authentication failed: check the key in the environment variable MY_KEY/],
      [json({ error: { message: 'You exceeded your current quota', code: 'insufficient_quota' } }, 429), /quota is used up/],
      [json({ error: { message: 'The model `m` does not exist' } }, 404), /model "m" or endpoint not found/],
      [json({ detail: "Server is pinned to '/ckpt'; requested 'm'." }, 400), /HTTP 400: Server is pinned.*\n.*model "m" or endpoint not found/],
    ];
    for (const [response, message] of cases) {
      const f = fakeFetch(() => response.clone());
      const model = backend('openai', f, { apiKey: 'sk-secret-1234' });
      const error = await model.generate([{ messages: [user('q')], sampling }]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FatalBackendError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain('sk-secret-1234');
      expect(f.calls).toHaveLength(1);
      // Later calls stop at once.
      await expect(model.generate([{ messages: [user('q')], sampling }])).rejects.toBeInstanceOf(FatalBackendError);
      expect(f.calls).toHaveLength(1);
    }
  });

  it('context too long fails that call; too long for every request stops the run', async () => {
    const f = fakeFetch(() => json({ error: { message: "This model's maximum context length is 8 tokens", code: 'context_length_exceeded' } }, 400));
    const model = backend('vllm', f, { traffic: { maxConsecutiveFailures: 3, concurrency: 1 } });
    const first = await model.generate([{ messages: [user('q')], sampling }]);
    expect(first[0].finishReason).toBe('error');
    const error = await model
      .generate([
        { messages: [user('q')], sampling },
        { messages: [user('q')], sampling },
      ])
      .catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/3 calls in a row failed.*too long for the model's context/s);
  });

  it('a failed target call marks the dialogue errored: no turn recorded, nothing judged, attackSuccess false', async () => {
    const f = fakeFetch((_, i) => (i === 0 ? chatOk('Sure: [restricted step 1] UNSAFE') : json({ error: 'down' }, 500)));
    const target = backend('vllm', f, { traffic: { maxRetries: 1 } });
    const attackerModel = new ScriptedChatModel('att', (_r, i) => `Thinking ${i + 1}: plan\nAttack question ${i + 1}: question ${i + 1}`);
    const attacker = new LlmAttacker(attackerModel, { id: 'att', mode: 'thought', maxAttempts: 1, sampling, prefillMarker: false });
    const judge = new KeywordJudge();
    const [t] = await runConversations([{ id: 'd', seed: 1, objective: { id: 'o', text: '[harmful objective 1]', kind: 'harmful' } }], {
      attacker,
      target,
      judge,
      maxTurns: 3,
      targetSampling: sampling,
    });
    expect(t.stopReason).toBe('error');
    expect(t.turns).toHaveLength(1);
    expect(t.attackSuccess).toBe(false);
    expect(judge.calls).toHaveLength(1);
    expect(t.warnings.join()).toMatch(/turn 2: target call failed: .*HTTP 500/);
  });

  it('a failed judge call or attacker call marks the dialogue errored too (no format retries for a failed call)', async () => {
    const objective = { id: 'o', text: '[harmful objective 1]', kind: 'harmful' as const };
    const down = () => fakeFetch(() => json({ error: 'down' }, 503));
    const target = new ScriptedChatModel('target', () => 'I cannot help with that.');
    const scriptedAttacker = new LlmAttacker(new ScriptedChatModel('att', (_r, i) => `Thinking ${i + 1}: plan\nAttack question ${i + 1}: question ${i + 1}`), {
      id: 'att',
      mode: 'thought',
      maxAttempts: 1,
      sampling,
      prefillMarker: false,
    });
    const judge = new PromptJudge(backend('vllm', down(), { traffic: { maxRetries: 0 } }), { id: 'judge' });
    const [j] = await runConversations([{ id: 'd', seed: 1, objective }], { attacker: scriptedAttacker, target, judge, maxTurns: 2, targetSampling: sampling });
    expect(j).toMatchObject({ stopReason: 'error', attackSuccess: false, turns: [] });
    expect(j.warnings[0]).toMatch(/turn 1: judge call failed: .*HTTP 503/);

    const targetCallsBefore = target.calls.length;
    const attackerFetch = down();
    const serverAttacker = new LlmAttacker(backend('openai', attackerFetch, { traffic: { maxRetries: 1 } }), { id: 'att', mode: 'thought', maxAttempts: 4, sampling });
    const [a] = await runConversations([{ id: 'd', seed: 1, objective }], { attacker: serverAttacker, target, judge: new KeywordJudge(), maxTurns: 2, targetSampling: sampling });
    expect(a).toMatchObject({ stopReason: 'error', turns: [] });
    expect(a.warnings[0]).toMatch(/turn 1: attacker model call failed: .*HTTP 503.*gave up after 2 attempts/);
    expect(attackerFetch.calls).toHaveLength(2);
    expect(target.calls).toHaveLength(targetCallsBefore);
  });
});
