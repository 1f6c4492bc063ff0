/**
 * A Python worker process spoken to in JSON lines over stdio (python/mtsa_worker.py): one request
 * per line, one reply per request, in order. Every fault ends in a clear error naming the worker and
 * the request, never a hang: the child's exit is watched, each request has a timeout, and a line
 * that is not a protocol reply stops the worker (its state can no longer be trusted).
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../core/errors.js';

export class WorkerError extends Error {
  constructor(
    message: string,
    /** 'oom' | 'exception' | 'protocol' from the worker; 'exit', 'timeout', 'garbage' from the client */
    readonly kind: string,
  ) {
    super(message);
    this.name = 'WorkerError';
  }
}

/** The repository root (holds python/mtsa_worker.py), from src/ or dist/. */
export function repositoryRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'python', 'mtsa_worker.py')) && dirname(dir) !== dir) dir = dirname(dir);
  if (!existsSync(join(dir, 'python', 'mtsa_worker.py'))) throw new ConfigError('python/mtsa_worker.py not found above the mtsa installation');
  return dir;
}

/** The project's Python venv directory: $MTSA_VENV, else <repo>/.venv (what scripts/setup-python.sh creates). */
export function projectVenvDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return env.MTSA_VENV ? resolve(env.MTSA_VENV) : join(repositoryRoot(), '.venv');
}

/** The project's Python: $MTSA_VENV/bin/python, else <repo>/.venv/bin/python; a clear error naming the fix when absent. */
export function projectPython(): string {
  const venv = projectVenvDir();
  const python = join(venv, 'bin', 'python');
  if (!existsSync(python)) {
    throw new ConfigError(
      `the torch trainer needs the project's Python venv, and ${python} does not exist: run \`bash scripts/setup-python.sh\` (it creates ${venv} from python/requirements.txt), or point MTSA_VENV at a venv with torch, transformers, peft and safetensors`,
    );
  }
  return python;
}

/**
 * The project's Python, creating the venv with scripts/setup-python.sh first when it is missing
 * (with a notice: the first install takes minutes). Errors name the fix.
 */
export function ensureProjectPython(notice: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): string {
  try {
    return projectPython();
  } catch (error) {
    const script = join(repositoryRoot(), 'scripts', 'setup-python.sh');
    if (!existsSync(script)) throw error;
    notice(`mtsa: the torch trainer needs the project's Python venv; running scripts/setup-python.sh (first time: a few minutes)`);
    const result = spawnSync('bash', [script], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (result.status !== 0) throw new ConfigError(`scripts/setup-python.sh failed (exit ${result.status}); ${(error as Error).message}`);
    return projectPython();
  }
}

export interface WorkerProcessOptions {
  /** a name for messages, e.g. "torch worker for attacker" */
  name: string;
  python?: string;
  script?: string;
  /** default limit on one request's duration, ms */
  timeoutMs?: number;
  /** data-parallel ranks: > 1 launches the worker under torchrun (`python -m torch.distributed.run`) */
  processes?: number;
  env?: Record<string, string>;
}

interface Pending {
  op: string;
  resolve: (value: Record<string, unknown>) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** Workers still running when Node exits are killed with it (no orphaned Python processes). */
const live = new Set<WorkerProcess>();
process.once('exit', () => {
  for (const worker of live) worker.kill();
});

export class WorkerProcess {
  readonly name: string;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private stderrTail: string[] = [];
  private dead: WorkerError | null = null;
  private readonly timeoutMs: number;
  private readonly group: boolean;

  constructor(options: WorkerProcessOptions) {
    this.name = options.name;
    this.timeoutMs = options.timeoutMs ?? 30 * 60_000;
    const python = options.python ?? projectPython();
    const script = options.script ?? join(repositoryRoot(), 'python', 'mtsa_worker.py');
    const processes = options.processes ?? 1;
    const launcher = processes > 1 ? ['-m', 'torch.distributed.run', '--standalone', `--nproc_per_node=${processes}`] : [];
    // Under a launcher the ranks form a process group of their own, killed together.
    this.group = processes > 1;
    this.child = spawn(python, ['-u', ...launcher, script], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1', ...options.env }, detached: this.group });
    live.add(this);
    this.child.stdin.on('error', () => {}); // a dead worker's closed pipe is reported through 'exit'
    createInterface({ input: this.child.stdout }).on('line', (line) => this.onLine(line));
    createInterface({ input: this.child.stderr }).on('line', (line) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > 20) this.stderrTail.shift();
      if (process.env.MTSA_WORKER_LOG) process.stderr.write(`[${this.name}] ${line}\n`);
    });
    this.child.on('error', (error) => this.fail(new WorkerError(`${this.name}: could not start ${python} (${error.message})`, 'exit')));
    this.child.on('exit', (code, signal) => {
      live.delete(this);
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      this.fail(new WorkerError(`${this.name} ${how}${this.stderrHint()}`, 'exit'));
    });
    this.idle();
  }

  private stderrHint(): string {
    const tail = this.stderrTail
      .filter((l) => l.trim())
      .slice(-6)
      .join('\n  ');
    return tail ? `; its last stderr lines:\n  ${tail}` : '';
  }

  /** While no request is pending the worker does not keep Node alive. */
  private idle(): void {
    this.child.unref();
    (this.child.stdout as unknown as { unref?: () => void }).unref?.();
    (this.child.stderr as unknown as { unref?: () => void }).unref?.();
    (this.child.stdin as unknown as { unref?: () => void }).unref?.();
  }

  private busy(): void {
    this.child.ref();
    (this.child.stdout as unknown as { ref?: () => void }).ref?.();
    (this.child.stderr as unknown as { ref?: () => void }).ref?.();
  }

  private onLine(line: string): void {
    if (!line.trim()) return;
    let reply: { id?: unknown; ok?: unknown; error?: unknown; kind?: unknown } & Record<string, unknown>;
    try {
      reply = JSON.parse(line);
      if (typeof reply !== 'object' || reply === null || typeof reply.id !== 'number') throw new Error('no numeric id');
    } catch {
      const ops = [...this.pending.values()].map((p) => p.op).join(', ') || 'none';
      this.fail(new WorkerError(`${this.name} printed a line that is not a protocol reply (pending: ${ops}): ${JSON.stringify(line.slice(0, 200))}; the worker was stopped`, 'garbage'));
      this.kill();
      return;
    }
    const pending = this.pending.get(reply.id as number);
    if (!pending) return;
    this.pending.delete(reply.id as number);
    clearTimeout(pending.timer);
    if (this.pending.size === 0) this.idle();
    if (reply.ok === true) pending.resolve(reply);
    else {
      const kind = String(reply.kind ?? 'exception');
      const hint = kind === 'oom' ? ' (lower micro-batch tokens, enable gradient checkpointing or LoRA, or use bf16)' : '';
      pending.reject(new WorkerError(`${this.name}: request "${pending.op}" failed: ${String(reply.error)}${hint}`, kind));
    }
  }

  private fail(error: WorkerError): void {
    if (!this.dead) this.dead = error;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new WorkerError(`${error.message.split(';')[0]} during request "${p.op}"${error.message.includes(';') ? `;${error.message.split(';').slice(1).join(';')}` : ''}`, error.kind));
      this.pending.delete(id);
    }
    this.idle();
  }

  /** Sends one request and waits for its reply. */
  request<T = Record<string, unknown>>(op: string, body: Record<string, unknown> = {}, timeoutMs = this.timeoutMs): Promise<T> {
    if (this.dead) return Promise.reject(new WorkerError(`${this.name} is not running (${this.dead.message}); request "${op}" not sent`, this.dead.kind));
    const id = this.nextId++;
    return new Promise<T>((resolvePromise, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        const error = new WorkerError(`${this.name}: request "${op}" got no reply within ${(timeoutMs / 1000).toFixed(0)} s; the worker was stopped${this.stderrHint()}`, 'timeout');
        this.fail(error);
        this.kill();
        reject(error);
      }, timeoutMs);
      this.pending.set(id, { op, resolve: resolvePromise as (v: Record<string, unknown>) => void, reject, timer });
      this.busy();
      this.child.stdin.write(`${JSON.stringify({ id, op, ...body })}\n`);
    });
  }

  /** Kills the worker (every rank under a launcher). */
  kill(): void {
    try {
      if (this.group && this.child.pid) process.kill(-this.child.pid, 'SIGKILL');
      else this.child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }

  get running(): boolean {
    return !this.dead;
  }

  /** Asks the worker to exit, and kills it if it has not within a few seconds. */
  async close(): Promise<void> {
    if (this.dead) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    try {
      await this.request('exit', {}, 5000);
    } catch {
      /* already gone or stuck: killed below */
    }
    // Keep Node alive until the worker has gone (its exit is the only event left to wait for).
    this.child.ref();
    const timer = setTimeout(() => this.kill(), 5000);
    await exited;
    clearTimeout(timer);
  }
}
