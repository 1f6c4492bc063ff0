/**
 * Kills a real `mtsa run` child process in the middle of an iteration, resumes it, and checks that
 * the finished run holds exactly the records of an uninterrupted run with the same seed: nothing
 * lost, nothing duplicated, and completed steps reused rather than recomputed.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { runAndKill, runToEnd } from './run-child.js';

const lines = (dir: string, file: string) => readFileSync(join(dir, file), 'utf8').split('\n').filter(Boolean);

describe('resume after a kill', () => {
  it('finishes the run without redoing completed work and without losing or duplicating a record', async () => {
    const cache = inject('arenaCache');
    const base = mkdtempSync(join(tmpdir(), 'mtsa-resume-'));
    const reference = join(base, 'reference');
    const interrupted = join(base, 'interrupted');
    const common = ['--tiny', '--cache', cache];

    const full = runToEnd(['run', ...common, '--out', reference]);
    expect(full.status, full.stderr).toBe(0);

    // Killed right after the red-team resampling step of iteration 1 was stored.
    await runAndKill(['run', ...common, '--out', interrupted], interrupted, 'iteration-1__red-team-resampling.json');
    const stepsBefore = readdirSync(join(interrupted, 'steps'))
      .filter((f) => f.endsWith('.json'))
      .sort();
    expect(stepsBefore).toContain('stage1__attacker.json');
    expect(stepsBefore).not.toContain('iteration-1__target-update.json');
    const stepTimes = Object.fromEntries(stepsBefore.map((f) => [f, readFileSync(join(interrupted, 'steps', f), 'utf8')]));

    const resumed = runToEnd(['run', '--cache', cache, '--resume', interrupted]);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(new RegExp(`resuming: ${stepsBefore.length} completed steps reused`));
    // Completed steps were reused as they were, not recomputed.
    for (const [file, content] of Object.entries(stepTimes)) expect(readFileSync(join(interrupted, 'steps', file), 'utf8')).toBe(content);

    for (const file of ['trajectories.jsonl', 'pairs.jsonl', 'metrics.jsonl']) {
      const got = lines(interrupted, file);
      const want = lines(reference, file);
      expect(new Set(got).size, `${file} has duplicate records`).toBe(got.length);
      expect(got.length, file).toBe(want.length);
      expect([...got].sort()).toEqual([...want].sort());
    }
    const ids = lines(interrupted, 'trajectories.jsonl').map((l) => JSON.parse(l).id as string);
    expect(new Set(ids).size).toBe(ids.length);
    expect(JSON.parse(readFileSync(join(interrupted, 'summary.json'), 'utf8')).asr).toEqual(JSON.parse(readFileSync(join(reference, 'summary.json'), 'utf8')).asr);
    expect(existsSync(join(interrupted, 'report.html'))).toBe(true);
  }, 600_000);

  it('refuses to overwrite a finished run and names the fix', () => {
    const out = mkdtempSync(join(tmpdir(), 'mtsa-exists-'));
    spawnSync('touch', [join(out, 'something')]);
    const result = runToEnd(['run', '--tiny', '--cache', inject('arenaCache'), '--out', out]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/already exists and is not empty; continue it with --resume/);
  });
});
