/**
 * A small pool of worker threads for independent, CPU-bound jobs (evaluation cells, arena models),
 * so that both cores of a two-core machine are busy: two jobs side by side gain more than a second
 * kernel thread inside each. Each worker is a module that calls `serveJobs`;
 * it stays alive across jobs, so what it loads once (models, a world) is reused. Results come back
 * in the order jobs were submitted to each `run` call's promise; the caller decides the order in
 * which they are used (and so keeps same-seed runs byte-identical).
 *
 * Under the TypeScript sources (tests), a worker entry `x.js` that does not exist is loaded as
 * `x.ts` through tsx, a development dependency; the built CLI loads the compiled `x.js`.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

interface JobMessage {
  id: number;
  job: unknown;
}

type WorkerReply = { id: number; type: 'done'; result: unknown } | { id: number; type: 'error'; message: string; stack?: string } | { id: number; type: 'event'; event: unknown };

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  onEvent?: (event: unknown) => void;
}

/** The worker's entry: the compiled `.js` when it exists, else its `.ts` source run through tsx. */
function workerScript(entry: URL): { source: string | URL; eval: boolean } {
  const path = fileURLToPath(entry);
  if (existsSync(path)) return { source: entry, eval: false };
  const ts = new URL(entry.href.replace(/\.js$/, '.ts'));
  if (!existsSync(fileURLToPath(ts))) throw new Error(`worker entry ${path} not found (nor its .ts source); run \`npm run build\``);
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(ts.href)}); }).catch((error) => { console.error(error); process.exit(1); });`;
  return { source: boot, eval: true };
}

export class WorkerPool<Job, Result, Event = never> {
  private readonly workers: Worker[] = [];
  private readonly queue: { message: JobMessage; pending: Pending }[] = [];
  private readonly pending = new Map<number, Pending>();
  /** jobs sent to each worker and not answered yet (a worker runs its jobs one after the other) */
  private readonly inFlight = new Map<Worker, number>();
  private nextId = 0;
  private failure: Error | null = null;

  /**
   * @param entry URL of the worker module (`new URL('./x-worker.js', import.meta.url)`)
   * @param size number of workers
   * @param init passed to every worker as its `workerData`
   */
  constructor(
    entry: URL,
    readonly size: number,
    init: unknown,
  ) {
    const script = workerScript(entry);
    for (let i = 0; i < size; i++) {
      const worker = new Worker(script.source, { eval: script.eval, workerData: init });
      worker.on('message', (reply: WorkerReply) => this.onReply(worker, reply));
      worker.on('error', (error) => this.fail(error));
      worker.on('exit', (code) => {
        if (code !== 0) this.fail(new Error(`worker thread exited with code ${code}`));
      });
      this.workers.push(worker);
      this.inFlight.set(worker, 0);
    }
  }

  /** Runs a job on the next free worker; `onEvent` receives what the worker posts meanwhile. */
  run(job: Job, onEvent?: (event: Event) => void): Promise<Result> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<Result>((resolve, reject) => {
      const pending: Pending = { resolve: resolve as (value: unknown) => void, reject, onEvent: onEvent as ((event: unknown) => void) | undefined };
      this.queue.push({ message: { id: this.nextId++, job }, pending });
      this.dispatch();
    });
  }

  /**
   * Sends a job to worker `index` at once, behind the jobs it already has. Unlike `run`, this
   * needs no reply to be read first: a thread that keeps its event loop busy (a training loop)
   * can queue work that runs meanwhile.
   */
  runOn(index: number, job: Job, onEvent?: (event: Event) => void): Promise<Result> {
    if (this.failure) return Promise.reject(this.failure);
    const worker = this.workers[index];
    if (!worker) return Promise.reject(new Error(`WorkerPool.runOn: no worker ${index} in a pool of ${this.workers.length}`));
    return new Promise<Result>((resolve, reject) => {
      this.send(worker, { id: this.nextId++, job }, { resolve: resolve as (value: unknown) => void, reject, onEvent: onEvent as ((event: unknown) => void) | undefined });
    });
  }

  private send(worker: Worker, message: JobMessage, pending: Pending): void {
    this.pending.set(message.id, pending);
    this.inFlight.set(worker, this.inFlight.get(worker)! + 1);
    worker.postMessage(message);
  }

  private dispatch(): void {
    for (const worker of this.workers) {
      if (this.queue.length === 0) return;
      if (this.inFlight.get(worker) !== 0) continue;
      const { message, pending } = this.queue.shift()!;
      this.send(worker, message, pending);
    }
  }

  private onReply(worker: Worker, reply: WorkerReply): void {
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    if (reply.type === 'event') {
      pending.onEvent?.(reply.event);
      return;
    }
    this.pending.delete(reply.id);
    this.inFlight.set(worker, this.inFlight.get(worker)! - 1);
    if (reply.type === 'done') pending.resolve(reply.result);
    else {
      const error = new Error(reply.message);
      if (reply.stack) error.stack = reply.stack;
      pending.reject(error);
    }
    this.dispatch();
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    for (const pending of this.pending.values()) pending.reject(error);
    for (const { pending } of this.queue) pending.reject(error);
    this.pending.clear();
    this.queue.length = 0;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/**
 * The worker side: answers each job with `handle(job, init, post)`, one at a time. `post` sends
 * progress events to the job's `onEvent`. Must be called from a module run as a pool worker.
 */
export function serveJobs<Init, Job, Result, Event = never>(handle: (job: Job, init: Init, post: (event: Event) => void) => Promise<Result> | Result): void {
  if (isMainThread || !parentPort) throw new Error('serveJobs: not running in a worker thread');
  const port = parentPort;
  const init = workerData as Init;
  let chain = Promise.resolve();
  port.on('message', (message: JobMessage) => {
    chain = chain.then(async () => {
      try {
        const result = await handle(message.job as Job, init, (event) => port.postMessage({ id: message.id, type: 'event', event }));
        port.postMessage({ id: message.id, type: 'done', result });
      } catch (error) {
        const e = error as Error;
        port.postMessage({ id: message.id, type: 'error', message: e.message ?? String(error), stack: e.stack });
      }
    });
  });
}
