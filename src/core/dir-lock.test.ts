import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireLock, LockHeldError, processAlive, removeStaleTemporaries } from './dir-lock.js';

/** The PID of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

describe('directory lock', () => {
  it('one holder at a time; the refusal names the holder; release frees it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtsa-lock-'));
    const path = join(dir, '.lock');
    const first = acquireLock(path, 'mtsa run', `run directory ${dir}`);
    expect(first.tookOver).toBeNull();
    let error: unknown;
    try {
      acquireLock(path, 'mtsa run --resume', `run directory ${dir}`);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LockHeldError);
    expect((error as Error).message).toBe(
      `run directory ${dir} is in use by process ${process.pid} on ${hostname()} (mtsa run, since ${first.owner.startedAt}); wait for it to finish or stop it (if process ${process.pid} is not mtsa, delete ${path})`,
    );
    first.release();
    expect(existsSync(path)).toBe(false);
    acquireLock(path, 'again', 'x').release();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('takes over a stale lock of a dead process on this host', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtsa-lock-'));
    const path = join(dir, '.lock');
    const pid = deadPid();
    expect(processAlive(pid)).toBe(false);
    writeFileSync(path, JSON.stringify({ pid, host: hostname(), startedAt: 'earlier', purpose: 'mtsa run' }));
    const lock = acquireLock(path, 'mtsa run --resume', 'x');
    expect(lock.tookOver).toMatchObject({ pid, purpose: 'mtsa run' });
    lock.release();
  });

  it('treats an unreadable lock as stale, and a lock of another host as held, with the remedy', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtsa-lock-'));
    const path = join(dir, '.lock');
    writeFileSync(path, 'garbage');
    acquireLock(path, 'a', 'x').release();
    writeFileSync(path, JSON.stringify({ pid: 1, host: 'elsewhere', startedAt: 't', purpose: 'mtsa run' }));
    expect(() => acquireLock(path, 'b', 'run directory d')).toThrow(
      `run directory d is in use by process 1 on elsewhere (mtsa run, since t); if no process on elsewhere uses it any more, delete ${path}`,
    );
  });

  it('removes temporaries of dead processes only', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtsa-lock-'));
    const dead = deadPid();
    writeFileSync(join(dir, `.report.html.tmp-${dead}`), 'half');
    mkdirSync(join(dir, `.target-abc.tmp-${dead}`));
    writeFileSync(join(dir, `.live.json.tmp-${process.pid}`), 'mine');
    writeFileSync(join(dir, 'report.html'), 'whole');
    expect(removeStaleTemporaries(dir).sort()).toEqual([`.report.html.tmp-${dead}`, `.target-abc.tmp-${dead}`]);
    expect(readdirSync(dir).sort()).toEqual([`.live.json.tmp-${process.pid}`, 'report.html']);
  });
});
