/**
 * Fault injection: `mtsa attack` against a misbehaving OpenAI-compatible server written here
 * (node:http on 127.0.0.1). Each case checks that the run finishes (transient faults: retried,
 * bounded) or stops with the message that names the fix (faults no retry can cure); that
 * nothing is scored from a failed call (errored dialogues are counted apart); and that no file in
 * the run directory contains the API key. The attacker and judge are the tiny arena's models.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { tinyArenaConfig } from '../../src/arena/config.js';
import { parseAttackConfig } from '../../src/config/attack-config.js';
import { FatalBackendError } from '../../src/models/http/traffic.js';
import { runAttackJob } from '../../src/run/run-attack.js';
import type { ObjectiveRef } from '../../src/core/trajectory.js';
import type { Trajectory } from '../../src/core/trajectory.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const KEY = 'sk-mtsa-test-5f3a9c1e7b2d';
const KEY_ENV = 'MTSA_FAULT_TEST_KEY';

type Fault = (request: { n: number; body: Record<string, unknown>; hash: string; repeat: number }, res: ServerResponse) => boolean;

interface LoggedRequest {
  hash: string;
  status: number;
}

/** The server: checks the key and the model, runs the current fault, else answers like a cautious target. */
class MisbehavingServer {
  fault: Fault = () => false;
  readonly log: LoggedRequest[] = [];
  private readonly seen = new Map<string, number>();
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  reset(fault: Fault): void {
    this.fault = fault;
    this.log.length = 0;
    this.seen.clear();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text = '';
    for await (const chunk of req) text += chunk;
    const body = JSON.parse(text) as Record<string, unknown>;
    const hash = createHash('sha256').update(text).digest('hex');
    const repeat = (this.seen.get(hash) ?? 0) + 1;
    this.seen.set(hash, repeat);
    // Every answer is logged with its status (a hung request is not answered, so not logged).
    const writeHead = res.writeHead.bind(res);
    res.writeHead = ((status: number, ...rest: unknown[]) => {
      this.log.push({ hash, status });
      return writeHead(status, ...(rest as []));
    }) as typeof res.writeHead;
    const send = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    if (req.headers.authorization !== `Bearer ${KEY}`)
      return send(401, { error: { message: `Incorrect API key provided: ${String(req.headers.authorization).slice(7)}`, type: 'invalid_request_error', code: 'invalid_api_key' } });
    if (body.model !== 'fake-target') return send(404, { error: { message: `The model \`${String(body.model)}\` does not exist`, code: 'model_not_found' } });
    if (this.fault({ n: this.log.length, body, hash, repeat }, res)) return;
    send(200, {
      id: 'x',
      object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', content: 'I cannot help with that request.' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 12, completion_tokens: 7 },
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const objectives: ObjectiveRef[] = [1, 2, 3, 4].map((i) => ({ id: `o${i}`, text: `[harmful objective ${i}]`, kind: 'harmful' }));

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

describe('mtsa attack against a misbehaving server', () => {
  const server = new MisbehavingServer();
  const cache = inject('arenaCache');
  beforeAll(() => server.start());
  afterAll(() => server.close());

  function config(model = 'fake-target', traffic: Record<string, unknown> = {}) {
    return parseAttackConfig({
      seed: 3,
      maxTurns: 2,
      arena: tinyArenaConfig(1),
      target: { sampling: { maxTokens: 32 } },
      models: {
        target: {
          kind: 'openai-compatible',
          baseUrl: server.url,
          model,
          flavour: 'vllm',
          apiKeyEnv: KEY_ENV,
          traffic: { concurrency: 4, timeoutMs: 400, maxRetries: 3, initialBackoffMs: 10, maxBackoffMs: 40, ...traffic },
        },
      },
    });
  }

  async function attack(options: { model?: string; key?: string; traffic?: Record<string, unknown> } = {}) {
    const outDir = join(mkdtempSync(join(tmpdir(), 'mtsa-faults-')), 'run');
    const run = runAttackJob({ config: config(options.model, options.traffic), objectives, outDir, cacheDir: cache, resume: false, env: { [KEY_ENV]: options.key ?? KEY } });
    const result = await run.then(
      (summary) => ({ summary, error: undefined }),
      (error: unknown) => ({ summary: undefined, error: error as Error }),
    );
    const trajectories = readFileSync(join(outDir, 'trajectories.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Trajectory);
    // Never the key, anywhere in the run directory.
    for (const file of files(outDir)) expect(readFileSync(file, 'latin1').includes(KEY), file).toBe(false);
    return { ...result, trajectories, outDir };
  }

  function expectAllScored(summary: Awaited<ReturnType<typeof attack>>['summary'], trajectories: Trajectory[]) {
    expect(summary).toBeDefined();
    expect(summary!.erroredDialogues).toBe(0);
    expect(summary!.asr.n).toBe(summary!.dialogues - 0);
    expect(trajectories.every((t) => t.stopReason !== 'error')).toBe(true);
    for (const t of trajectories) for (const turn of t.turns) expect(turn.reply).toBe('I cannot help with that request.');
    expect(trajectories.reduce((n, t) => n + t.turns.length, 0)).toBe(objectives.length * 2);
  }

  it('429 with Retry-After: waits as told, retries, finishes with everything scored', async () => {
    server.reset(({ repeat }, res) => {
      if (repeat > 1) return false;
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after-ms': '30' });
      res.end(JSON.stringify({ error: { message: 'Rate limit reached', code: 'rate_limit_exceeded' } }));
      return true;
    });
    const { summary, trajectories } = await attack();
    expectAllScored(summary, trajectories);
    expect(summary!.traffic.target.retries).toBe(summary!.traffic.target.calls);
    expect(server.log.filter((l) => l.status === 429)).toHaveLength(summary!.traffic.target.calls);
  });

  it('500 then 503: retried with backoff, finishes', async () => {
    server.reset(({ repeat }, res) => {
      if (repeat > 2) return false;
      res.writeHead(repeat === 1 ? 500 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'internal error' } }));
      return true;
    });
    const { summary, trajectories } = await attack();
    expectAllScored(summary, trajectories);
    expect(summary!.traffic.target.retries).toBe(2 * summary!.traffic.target.calls);
  });

  it('a hung connection times out and is retried', async () => {
    server.reset(({ n, repeat }) => repeat === 1 && n % 2 === 0); // never answers: the client gives up after timeoutMs
    const { summary, trajectories } = await attack();
    expectAllScored(summary, trajectories);
    expect(summary!.traffic.target.retries).toBeGreaterThan(0);
  });

  it('malformed JSON, a truncated body and an empty choice list are retried', async () => {
    server.reset(({ repeat }, res) => {
      if (repeat === 1) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"choices": [{"message": {"content": "I cannot');
      } else if (repeat === 2) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '400' });
        res.write('{"choices": [');
        res.destroy(); // the connection drops mid-body
      } else if (repeat === 3) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 0 } }));
      } else return false;
      return true;
    });
    const { summary, trajectories } = await attack();
    expectAllScored(summary, trajectories);
    expect(summary!.traffic.target.retries).toBe(3 * summary!.traffic.target.calls);
  });

  it('requests that fail every retry: their dialogues are errored, counted apart and never scored; retries are bounded', async () => {
    // A deterministic third of the requests always fail (their retries send the same body).
    server.reset(({ hash }, res) => {
      if (parseInt(hash.slice(0, 8), 16) % 3 !== 0) return false;
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'this request always fails' } }));
      return true;
    });
    const { summary, trajectories, outDir } = await attack({ traffic: { maxRetries: 2 } });
    expect(summary).toBeDefined();
    const errored = trajectories.filter((t) => t.stopReason === 'error');
    expect(errored.length).toBeGreaterThan(0);
    expect(summary!.erroredDialogues).toBe(errored.length);
    expect(summary!.asr.n).toBe(trajectories.length - errored.length);
    for (const t of errored) {
      expect(t.attackSuccess).toBe(false);
      expect(t.warnings.join('\n')).toMatch(/target call failed: .*HTTP 500.*gave up after 3 attempts/);
      for (const turn of t.turns) expect(turn.reply).toBe('I cannot help with that request.');
    }
    const attemptsPerBody = new Map<string, number>();
    for (const l of server.log) attemptsPerBody.set(l.hash, (attemptsPerBody.get(l.hash) ?? 0) + 1);
    expect(Math.max(...attemptsPerBody.values())).toBe(3);
    const verdicts = readFileSync(join(outDir, 'verdicts.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { errored: number; dialogues: number; verdict: string });
    expect(verdicts.reduce((n, v) => n + v.errored, 0)).toBe(errored.length);
    for (const v of verdicts) if (v.errored === v.dialogues) expect(v.verdict).toBe('errored');
  });

  it('a wrong model name (404) stops the run and names the fix', async () => {
    server.reset(() => false);
    const { error, trajectories } = await attack({ model: 'no-such-model' });
    expect(error).toBeInstanceOf(FatalBackendError);
    expect(error!.message).toMatch(/model "no-such-model" or endpoint not found: check the model name/);
    expect(trajectories).toHaveLength(0);
    // No retries: each request was sent once (up to the concurrency limit were already in flight).
    expect(new Set(server.log.map((l) => l.hash)).size).toBe(server.log.length);
    expect(server.log.length).toBeLessThanOrEqual(4);
  });

  it('an invalid key (401) stops the run, names the variable, and the key appears nowhere (CLI, exit code 1)', async () => {
    server.reset(() => false);
    const out = join(mkdtempSync(join(tmpdir(), 'mtsa-faults-cli-')), 'run');
    const wrongKey = 'sk-wrong-key-0123456789';
    // Asynchronous: the server answers from this process, so it must not be blocked.
    const result = await runCli(
      [
        join(root, 'bin', 'mtsa.js'),
        'attack',
        '--target-url',
        server.url,
        '--target-model',
        'fake-target',
        '--target-flavour',
        'vllm',
        '--api-key-env',
        KEY_ENV,
        '--objectives',
        join(root, 'test', 'fixtures', 'harmbench-layout.csv'),
        '--out',
        out,
        '--turns',
        '2',
        '--tiny',
        '--cache',
        cache,
      ],
      { ...process.env, [KEY_ENV]: wrongKey },
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/HTTP 401.*\n.*authentication failed: check the key in the environment variable MTSA_FAULT_TEST_KEY/);
    expect(result.stderr + result.stdout).not.toContain(wrongKey);
    for (const file of files(out)) expect(readFileSync(file, 'latin1').includes(wrongKey), file).toBe(false);
    expect(new Set(server.log.map((l) => l.hash)).size).toBe(server.log.length);
    // With the key fixed, --resume finishes the same run.
    const resumed = await runCli([join(root, 'bin', 'mtsa.js'), 'attack', '--resume', out, '--cache', cache], { ...process.env, [KEY_ENV]: KEY });
    expect(resumed.stderr).not.toMatch(/^mtsa: /m);
    expect(resumed.status).toBe(0);
    expect(resumed.stdout).toMatch(/ASR .* over 3 scored dialogues/);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { dialogues: number; erroredDialogues: number };
    expect(summary).toMatchObject({ dialogues: 3, erroredDialogues: 0 });
    for (const file of files(out)) expect(readFileSync(file, 'latin1').includes(KEY), file).toBe(false);
  }, 90_000);
});
