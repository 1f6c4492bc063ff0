import { describe, expect, it } from 'vitest';
import { WorkerPool } from './worker-pool.js';

describe('WorkerPool', () => {
  it('runOn queues jobs in the worker itself: they run while this thread is busy', async () => {
    const pool = new WorkerPool<{ ms: number }, number>(new URL('../testing/clock-worker.js', import.meta.url), 2, null);
    try {
      await pool.runOn(0, { ms: 0 }); // the worker has started
      const results = [0, 1, 2].map(() => pool.runOn(0, { ms: 30 }));
      // This thread reads no reply while it spins, so only jobs already in the worker's queue can run.
      const blockedUntil = Date.now() + 2000;
      while (Date.now() < blockedUntil);
      const finished = await Promise.all(results);
      for (const at of finished) expect(at).toBeLessThan(blockedUntil);
      // one after the other, in order
      expect([...finished].sort((a, b) => a - b)).toEqual(finished);
      // run() still hands jobs to free workers
      expect(await Promise.all([pool.run({ ms: 1 }), pool.run({ ms: 1 })])).toHaveLength(2);
      await expect(pool.runOn(5, { ms: 0 })).rejects.toThrow(/no worker 5/);
    } finally {
      await pool.close();
    }
  }, 60_000);
});
