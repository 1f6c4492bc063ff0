/**
 * Starts Hugging Face's `transformers serve` from the project venv on 127.0.0.1 (a free port),
 * pinned to one checkpoint directory, and waits for /health. For the end-to-end test and the
 * attack-http benchmark: a real OpenAI-compatible server nobody here wrote.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import type { Venv } from './python-venv.js';

export interface ServedModel {
  /** base URL ending in /v1 */
  url: string;
  /** the model name requests must carry (the pinned directory) */
  model: string;
  /** seconds from spawn to a healthy /health */
  startupSeconds: number;
  log(): string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startTransformersServe(venv: Venv, dir: string, options: { timeoutMs?: number } = {}): Promise<ServedModel> {
  const port = await freePort();
  const started = performance.now();
  const child: ChildProcess = spawn(venv.bin('transformers'), ['serve', dir, '--host', '127.0.0.1', '--port', String(port), '--device', 'cpu'], {
    // One torch thread: on a small shared machine, torch's default thread pool makes each request
    // 4-5x slower (measured: 0.93 s vs 0.16 s for one 48-token completion under load).
    env: { ...process.env, HF_HUB_OFFLINE: '1', TRANSFORMERS_VERBOSITY: 'error', TOKENIZERS_PARALLELISM: 'false', OMP_NUM_THREADS: process.env.MTSA_SERVE_THREADS ?? '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
  child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));
  const stop = () =>
    new Promise<void>((resolve) => {
      if (exited !== undefined) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    });
  const deadline = performance.now() + (options.timeoutMs ?? 180_000);
  for (;;) {
    if (exited !== undefined) throw new Error(`transformers serve exited (code ${exited}) before it was ready:\n${output}`);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/health`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) {
      await stop();
      throw new Error(`transformers serve was not healthy within ${options.timeoutMs ?? 180_000} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url: `http://127.0.0.1:${port}/v1`, model: dir, startupSeconds: (performance.now() - started) / 1000, log: () => output, stop };
}
