/**
 * Worker faults end in a clear error naming the worker and the request, never a hang: a worker that
 * dies mid-request, prints a non-protocol line, raises, takes too long, or whose venv is missing.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { venvPython } from '../../../test/conformance/python-venv.js';
import { WorkerProcess, projectPython } from './worker-process.js';

const { python, reason } = venvPython();
const workers: WorkerProcess[] = [];
const start = (timeoutMs?: number) => {
  const w = new WorkerProcess({ name: 'torch worker for test', python: python!, timeoutMs });
  workers.push(w);
  return w;
};

afterEach(async () => {
  for (const w of workers.splice(0)) await w.close();
});

describe('WorkerProcess without Python', () => {
  it('names the fix when the venv is missing', () => {
    const saved = process.env.MTSA_VENV;
    process.env.MTSA_VENV = join(tmpdir(), 'no-such-venv-for-mtsa');
    try {
      expect(() => projectPython()).toThrow(/scripts\/setup-python\.sh/);
    } finally {
      if (saved === undefined) delete process.env.MTSA_VENV;
      else process.env.MTSA_VENV = saved;
    }
  });

  it('reports a worker that exits at once, with its stderr', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtsa-worker-'));
    const script = join(dir, 'broken.py');
    writeFileSync(script, 'import sys\nsys.stderr.write("ImportError: no module named torch\\n")\nsys.exit(4)\n');
    const w = new WorkerProcess({ name: 'torch worker for attacker', python: 'python3', script });
    workers.push(w);
    await expect(w.request('load', { path: '/nowhere' })).rejects.toThrow(/torch worker for attacker exited with code 4 during request "load".*\n.*no module named torch/);
  });
});

describe.skipIf(!python)(`WorkerProcess faults${python ? '' : ` (skipped: ${reason})`}`, () => {
  it('a failing request gives an error naming the worker and the request, and the worker lives on', async () => {
    const w = start();
    await expect(w.request('score', { sequences: [] })).rejects.toThrow(/torch worker for test: request "score" failed: WorkerError: "score" before "load"/);
    await expect(w.request('load', { path: join(tmpdir(), 'no-such-checkpoint-dir') })).rejects.toThrow(/request "load" failed/);
    await expect(w.request('raise_oom')).rejects.toThrow(
      /request "raise_oom" failed: out of memory: CUDA out of memory.*\(lower micro-batch tokens, enable gradient checkpointing or LoRA, or use bf16\)/,
    );
    expect((await w.request<{ protocol: number }>('hello')).protocol).toBe(1);
  }, 60_000);

  it('a worker that dies mid-request is reported with the request, and later requests fail at once', async () => {
    const w = start();
    await expect(w.request('crash', { code: 9 })).rejects.toThrow(/torch worker for test exited with code 9 during request "crash"/);
    await expect(w.request('hello')).rejects.toThrow(/is not running.*request "hello" not sent/);
  }, 60_000);

  it('a non-protocol line on stdout stops the worker with a clear error', async () => {
    const w = start();
    await expect(w.request('garbage')).rejects.toThrow(/printed a line that is not a protocol reply \(pending: garbage\): "this is not json"/);
    expect(w.running).toBe(false);
  }, 60_000);

  it('a request past its time limit is stopped, not waited on', async () => {
    const w = start();
    await w.request('hello');
    await expect(w.request('sleep', { seconds: 30 }, 1500)).rejects.toThrow(/request "sleep" got no reply within 2 s/);
    expect(w.running).toBe(false);
  }, 60_000);
});
