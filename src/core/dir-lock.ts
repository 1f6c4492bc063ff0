/**
 * One process per directory: an exclusive lock file holding the owner's PID, host and start time.
 * The file is created whole under a temporary name and hard-linked into place (link(2) fails when
 * the name exists), so a reader never sees a half-written lock. A lock whose process is gone (same
 * host, PID not alive) is stale and is taken over; the takeover renames the stale file aside first,
 * so of two processes that find the same stale lock exactly one wins.
 */
import { existsSync, linkSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { MtsaError } from './errors.js';

export interface LockOwner {
  pid: number;
  host: string;
  startedAt: string;
  /** what the owner is doing, e.g. "mtsa run" */
  purpose: string;
}

/** Another live process holds the lock. */
export class LockHeldError extends MtsaError {
  constructor(
    message: string,
    readonly owner: LockOwner | null,
  ) {
    super(message);
  }
}

export interface DirectoryLock {
  readonly path: string;
  readonly owner: LockOwner;
  /** true when a stale lock of a dead process was taken over */
  readonly tookOver: LockOwner | null;
  release(): void;
}

/** Whether a process with this PID exists on this machine (EPERM: it exists, owned by someone else). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(path: string): LockOwner | null {
  try {
    const value = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockOwner>;
    if (typeof value.pid !== 'number' || typeof value.host !== 'string') return null;
    return { pid: value.pid, host: value.host, startedAt: String(value.startedAt ?? '?'), purpose: String(value.purpose ?? '?') };
  } catch {
    return null;
  }
}

function isStale(owner: LockOwner | null): boolean {
  // An unreadable lock cannot be ours in the middle of being written (it is linked in whole): stale.
  if (!owner) return true;
  return owner.host === hostname() && !processAlive(owner.pid);
}

function describeOwner(owner: LockOwner | null): string {
  return owner ? `process ${owner.pid} on ${owner.host} (${owner.purpose}, since ${owner.startedAt})` : 'an unknown process';
}

/**
 * Takes the lock file `path` or throws LockHeldError naming the owner. `what` names the locked
 * thing in the message ("run directory /x").
 */
export function acquireLock(path: string, purpose: string, what: string): DirectoryLock {
  const owner: LockOwner = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), purpose };
  const temporary = `${path}.new-${process.pid}`;
  writeFileSync(temporary, `${JSON.stringify(owner)}\n`);
  let tookOver: LockOwner | null = null;
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        linkSync(temporary, path);
        return makeLock(path, owner, tookOver);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = readOwner(path);
      if (!isStale(holder)) {
        const remedy =
          holder && holder.host !== hostname()
            ? `if no process on ${holder.host} uses it any more, delete ${path}`
            : `wait for it to finish or stop it (if process ${holder?.pid} is not mtsa, delete ${path})`;
        throw new LockHeldError(`${what} is in use by ${describeOwner(holder)}; ${remedy}`, holder);
      }
      // Stale: move it aside. Only one racer gets the stale file; a racer that got a live lock puts it back.
      const aside = `${path}.stale-${process.pid}`;
      try {
        renameSync(path, aside);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      const moved = readOwner(aside);
      if (!isStale(moved)) {
        try {
          linkSync(aside, path);
        } catch {
          // someone else holds it now; either way it is not ours
        }
        rmSync(aside, { force: true });
        throw new LockHeldError(`${what} is in use by ${describeOwner(moved)}; wait for it to finish or stop it (if process ${moved?.pid} is not mtsa, delete ${path})`, moved);
      }
      rmSync(aside, { force: true });
      tookOver = moved;
    }
    throw new LockHeldError(`${what}: could not take the lock ${path} (it keeps changing hands)`, readOwner(path));
  } finally {
    rmSync(temporary, { force: true });
  }
}

function makeLock(path: string, owner: LockOwner, tookOver: LockOwner | null): DirectoryLock {
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.off('exit', release);
    const current = readOwner(path);
    if (current && current.pid === owner.pid && current.host === owner.host && current.startedAt === owner.startedAt) {
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    }
  };
  process.on('exit', release);
  return { path, owner, tookOver, release };
}

/** Sleeps the thread (the arena build is synchronous). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** acquireLock, waiting (up to `timeoutMs`) while another live process holds it. */
export function acquireLockWaiting(path: string, purpose: string, what: string, options: { timeoutMs?: number; pollMs?: number; onWait?: (owner: LockOwner | null) => void } = {}): DirectoryLock {
  const deadline = Date.now() + (options.timeoutMs ?? 6 * 3600_000);
  let told = false;
  for (;;) {
    try {
      return acquireLock(path, purpose, what);
    } catch (error) {
      if (!(error instanceof LockHeldError) || Date.now() > deadline) throw error;
      if (!told) options.onWait?.(error.owner);
      told = true;
      sleepSync(options.pollMs ?? 500);
    }
  }
}

const TEMPORARY = /^\..+\.(tmp|old|new|stale)-(\d+)$/;

/**
 * Removes what an interrupted atomic write left behind (`.<name>.tmp-<pid>`, `.<name>.old-<pid>`)
 * by processes that no longer exist, in `dir`. Call it while holding the directory's lock.
 * Returns the removed names.
 */
export function removeStaleTemporaries(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    const match = TEMPORARY.exec(name);
    // A live PID is another process in the middle of a write (e.g. a lock being created): keep it.
    if (!match || processAlive(Number(match[2]))) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}
