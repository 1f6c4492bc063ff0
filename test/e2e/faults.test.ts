/**
 * Fault injection on real files and real `mtsa` processes: a full disk (ENOSPC injected at the fs
 * layer) then --resume, a kill while report.html is written, NaN weights in a stored step, a run
 * checkpoint and the arena cache, two concurrent resumes on a stale lock, crafted checkpoints
 * under a memory watch, and bad input files. Every failure must be one line naming the path and
 * the remedy, exit 1, no stack trace, no duplicated record, bounded memory.
 *
 * One small run (the tiny arena with a shorter Stage 1) is the fixture; each case works on a copy.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, inject, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'bin', 'mtsa.js');
const injector = join(root, 'test', 'faults', 'inject.mjs');
const base = mkdtempSync(join(tmpdir(), 'mtsa-faults-'));

/** The tiny config with a shorter Stage 1 and fewer dialogues: a whole run in about 15 s. */
const FAST = 'mtsa:\n  goalsPerIteration: 16\n  maxFormatAttempts: 2\n  stage1:\n    topK: 96\n    train:\n      epochs: 1\n  redTeam:\n    maxGroups: 4\n  target:\n    maxPairs: 4\n';

interface Result {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** highest resident set size seen, in MiB (Linux; 0 elsewhere) */
  peakRssMb: number;
}

function rssMb(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Runs the CLI; `fault` preloads the fs fault injector; a process above `rssLimitMb` is killed. */
function mtsa(args: string[], options: { fault?: string; nodeArgs?: string[]; rssLimitMb?: number } = {}): Promise<Result> {
  const nodeArgs = [...(options.nodeArgs ?? []), ...(options.fault ? ['--import', injector] : [])];
  const env = { ...process.env, MTSA_TEST_FAULT: options.fault ?? '' };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, cli, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let peak = 0;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setInterval(() => {
      peak = Math.max(peak, rssMb(child.pid!));
      if (options.rssLimitMb && peak > options.rssLimitMb) child.kill('SIGKILL');
    }, 25);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearInterval(timer);
      resolve({ status, signal, stdout, stderr, peakRssMb: peak });
    });
  });
}

/** A failure the user can act on: exit 1, the last stderr line `mtsa: …`, no stack trace anywhere. */
function expectCleanError(result: Result, message: RegExp): void {
  expect(result.status, result.stderr).toBe(1);
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines[lines.length - 1]).toMatch(/^mtsa: /);
  expect(lines[lines.length - 1]).toMatch(message);
  expect(result.stderr).not.toMatch(/^\s+at /m);
}

const lines = (dir: string, file: string) => readFileSync(join(dir, file), 'utf8').split('\n').filter(Boolean);
const copy = (from: string, name: string) => {
  const to = join(base, name);
  cpSync(from, to, { recursive: true });
  return to;
};

/** Overwrites the first weight of a safetensors file with NaN. */
function poison(path: string): void {
  const bytes = readFileSync(path);
  bytes.writeFloatLE(NaN, 8 + Number(bytes.readBigUInt64LE(0)));
  writeFileSync(path, bytes);
}

/** Rewrites a safetensors header entry (the data bytes stay as they are). */
function craftHeader(path: string, edit: (header: Record<string, { shape: unknown; data_offsets: unknown }>) => void): void {
  const bytes = readFileSync(path);
  const length = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8'));
  edit(header);
  const json = Buffer.from(JSON.stringify(header));
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(path, Buffer.concat([size, json, bytes.subarray(8 + length)]));
}

/** Every record of the stored steps, exactly once, is what the JSONL file holds. */
function expectRecordsOnce(dir: string): void {
  const steps = readdirSync(join(dir, 'steps'))
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, 'steps', f), 'utf8')));
  expect(new Set(steps.map((s) => s.index)).size, 'two steps share an index').toBe(steps.length);
  for (const [file, field] of [
    ['trajectories.jsonl', 'trajectories'],
    ['pairs.jsonl', 'pairs'],
    ['metrics.jsonl', 'metrics'],
  ] as const) {
    const got = lines(dir, file);
    expect(new Set(got).size, `${file} has duplicate records`).toBe(got.length);
    expect(got.length, file).toBe(steps.reduce((n, s) => n + (s.output[field]?.length ?? 0), 0));
  }
  const ids = lines(dir, 'trajectories.jsonl').map((l) => JSON.parse(l).id as string);
  expect(new Set(ids).size).toBe(ids.length);
}

/** A PID that no longer runs (for a stale lock). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  const pid = child.pid!;
  await new Promise((resolve) => child.on('close', resolve));
  return pid;
}

describe.sequential('fault injection', () => {
  let cache: string;
  let config: string;
  let done: string;
  let full: Result;
  let resumed: Result;

  beforeAll(async () => {
    cache = inject('arenaCache');
    config = join(base, 'fast.yaml');
    writeFileSync(config, FAST);
    done = join(base, 'done');
    // The disk "fills up" on the second write to trajectories.jsonl: after the online step was stored.
    full = await mtsa(['run', '--tiny', '--config', config, '--cache', cache, '--out', done], { fault: 'enospc:trajectories.jsonl:2' });
    resumed = await mtsa(['run', '--cache', cache, '--resume', done]);
  }, 300_000);

  it('a full disk is one line with the path and the remedy; --resume then finishes with every record once', () => {
    expectCleanError(full, new RegExp(`^mtsa: no space left on the device writing ${join(done, 'trajectories.jsonl')}: free some space, then continue with \`mtsa run --resume ${done}\``));
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming: \d+ completed steps reused \(attempt 2\)/);
    expectRecordsOnce(done);
    const summary = JSON.parse(readFileSync(join(done, 'summary.json'), 'utf8'));
    const attempts = JSON.parse(readFileSync(join(done, 'attempts.json'), 'utf8')).attempts as { seconds: number }[];
    expect(summary.attempts).toBe(2);
    expect(attempts).toHaveLength(2);
    expect(summary.wallSeconds).toBeGreaterThanOrEqual(attempts.reduce((s, a) => s + a.seconds, 0) - 0.1);
    expect(attempts[0].seconds).toBeGreaterThan(0);
    // Warnings of a phase without pairs reach the log, summary.json and the report.
    const iteration = summary.iterations[0];
    expect(summary.warnings.some((w: string) => /red-team resampling produced 0/.test(w))).toBe(iteration.redTeamPairs === 0);
    if (summary.warnings.length) {
      expect(resumed.stderr).toContain(`⚠ WARNING: ${summary.warnings[0]}`);
      expect(readFileSync(join(done, 'report.html'), 'utf8')).toContain('Warnings: these figures may be wrong');
    }
    expect(readdirSync(done).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('a kill while report.html is written leaves the run marked unfinished; --resume completes it', async () => {
    const dir = copy(done, 'killed-report');
    const killed = await mtsa(['run', '--cache', cache, '--resume', dir], { fault: 'kill:report.html' });
    expect(killed.signal).toBe('SIGKILL');
    expect(existsSync(join(dir, 'summary.json')), 'summary.json beside an unfinished run').toBe(false);
    const leftovers = readdirSync(dir).filter((f) => f.startsWith('.report.html.tmp-'));
    expect(leftovers).toHaveLength(1);
    expect(readFileSync(join(dir, 'report.html'), 'utf8')).toMatch(/<\/html>\n$/); // the previous report, whole
    const again = await mtsa(['run', '--cache', cache, '--resume', dir]);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toContain(`removed 1 temporary file(s) a killed attempt left: ${leftovers[0]}`);
    expect(readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]);
    expect(JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')).attempts).toBe(4);
    expect(readFileSync(join(dir, 'report.html'), 'utf8')).toMatch(/4 attempts/);
    expectRecordsOnce(dir);
  }, 120_000);

  it('NaN weights stop the run naming the model, the step and the file: stored step, run checkpoint, arena cache', async () => {
    const stepDir = copy(done, 'nan-step');
    const stepWeights = join(stepDir, 'steps', 'iteration-1__target-update.weights', 'model.safetensors');
    poison(stepWeights);
    expectCleanError(
      await mtsa(['run', '--cache', cache, '--resume', stepDir]),
      new RegExp(
        `^mtsa: step "iteration-1/target-update" of model target: its stored weights are unusable: ${stepWeights}: tensor "[^"]+" holds a non-finite value \\(NaN at index 0\\).*Delete ${join(stepDir, 'steps', 'iteration-1__target-update.json')} and`,
      ),
    );

    const checkpointDir = copy(done, 'nan-checkpoint');
    const checkpoint = join(checkpointDir, 'checkpoints', 'target-T1', 'model.safetensors');
    poison(checkpoint);
    expectCleanError(await mtsa(['run', '--cache', cache, '--resume', checkpointDir]), new RegExp(`^mtsa: ${checkpoint}: tensor "[^"]+" holds a non-finite value`));

    const brokenCache = copy(cache, 'nan-cache');
    const targets = readdirSync(brokenCache).flatMap((entry) =>
      readdirSync(join(brokenCache, entry))
        .filter((name) => name.startsWith('target-'))
        .map((name) => join(brokenCache, entry, name)),
    );
    for (const target of targets) poison(join(target, 'model.safetensors'));
    const result = await mtsa(['run', '--tiny', '--config', config, '--cache', brokenCache, '--out', join(base, 'nan-cache-run')]);
    expectCleanError(result, /^mtsa: arena cache entry (\S+) is unusable: \1\/model\.safetensors: tensor "[^"]+" holds a non-finite value .* Delete \1 and run again to rebuild it/);
  }, 120_000);

  it('two concurrent resumes on a stale lock: exactly one takes it over and proceeds, no record is duplicated', async () => {
    const dir = copy(done, 'concurrent');
    for (const step of ['eval__attack__R1-T1.json', 'eval__capability__T1.json']) rmSync(join(dir, 'steps', step));
    writeFileSync(join(dir, '.lock'), JSON.stringify({ pid: await deadPid(), host: hostname(), startedAt: 'earlier', purpose: 'mtsa run' }));
    const [a, b] = await Promise.all([mtsa(['run', '--cache', cache, '--resume', dir]), mtsa(['run', '--cache', cache, '--resume', dir])]);
    const winners = [a, b].filter((r) => r.status === 0);
    const losers = [a, b].filter((r) => r.status !== 0);
    expect(winners, `${a.stderr}\n---\n${b.stderr}`).toHaveLength(1);
    expect(winners[0].stderr).toMatch(/took over the lock of process \d+ on .* \(mtsa run\), which is no longer running/);
    expectCleanError(
      losers[0],
      new RegExp(
        `^mtsa: run directory ${dir} is in use by process \\d+ on ${hostname()} \\(mtsa run --resume, since [^)]+\\); wait for it to finish or stop it \\(if process \\d+ is not mtsa, delete ${join(dir, '.lock')}\\)$`,
      ),
    );
    expectRecordsOnce(dir);
    expect(lines(dir, 'trajectories.jsonl').length).toBe(lines(done, 'trajectories.jsonl').length);
    expect(existsSync(join(dir, '.lock'))).toBe(false);
  }, 120_000);

  it('crafted checkpoints fail cleanly in bounded memory', async () => {
    const watch = { nodeArgs: ['--max-old-space-size=256'], rssLimitMb: 1500 };
    const layers = copy(done, 'crafted-layers');
    const configPath = join(layers, 'checkpoints', 'attacker-R0', 'config.json');
    const original = JSON.parse(readFileSync(configPath, 'utf8'));
    // 100000 layers (7.7 GB before): above the sane bound; 1000 layers: within it, but not what the tensors hold.
    writeFileSync(configPath, JSON.stringify({ ...original, num_hidden_layers: 100000 }));
    let result = await mtsa(['run', '--cache', cache, '--resume', layers], watch);
    expectCleanError(result, new RegExp(`^mtsa: ${configPath}: field "num_hidden_layers": Too big: expected number to be <=1024`));
    expect(result.peakRssMb).toBeLessThan(1500);
    writeFileSync(configPath, JSON.stringify({ ...original, num_hidden_layers: 1000 }));
    result = await mtsa(['run', '--cache', cache, '--resume', layers], watch);
    expectCleanError(result, new RegExp(`^mtsa: ${join(layers, 'checkpoints', 'attacker-R0', 'model.safetensors')}: tensor "model\\.layers\\.\\d+\\.input_layernorm\\.weight" is missing`));
    expect(result.peakRssMb).toBeLessThan(1500);

    const vocab = copy(done, 'crafted-vocab');
    const vocabConfig = join(vocab, 'steps', 'stage1__attacker.weights', 'config.json');
    writeFileSync(vocabConfig, JSON.stringify({ ...JSON.parse(readFileSync(vocabConfig, 'utf8')), vocab_size: 2e9 }));
    result = await mtsa(['run', '--cache', cache, '--resume', vocab], watch);
    expectCleanError(result, new RegExp(`^mtsa: step "stage1/attacker" of model attacker: its stored weights are unusable: ${vocabConfig}: field "vocab_size": Too big`));

    for (const [name, edit, message] of [
      ['negative', (h: Record<string, { shape: unknown }>) => (h['model.norm.weight'].shape = [-96]), /has shape \[-96\]; a shape is a list of at most 8 non-negative integers/],
      ['huge', (h: Record<string, { shape: unknown }>) => (h['model.norm.weight'].shape = [1e12, 1e12]), /has shape \[1000000000000,1000000000000\], larger than the file's/],
      ['string', (h: Record<string, { shape: unknown }>) => (h['model.norm.weight'].shape = ['96']), /has shape \["96"\]/],
      ['outside', (h: Record<string, { data_offsets: unknown }>) => (h['model.norm.weight'].data_offsets = [0, 2 ** 40]), /outside the \d+ data bytes of the file/],
    ] as const) {
      const dir = copy(done, `crafted-${name}`);
      const weights = join(dir, 'checkpoints', 'target-T0', 'model.safetensors');
      craftHeader(weights, edit as (h: Record<string, { shape: unknown; data_offsets: unknown }>) => void);
      result = await mtsa(['run', '--cache', cache, '--resume', dir], watch);
      expectCleanError(result, new RegExp(`^mtsa: ${weights}: tensor "model\\.norm\\.weight" `));
      expect(result.stderr).toMatch(message);
      expect(result.peakRssMb).toBeLessThan(1500);
    }
  }, 180_000);

  it('bad input files and options: one line with the path and what to do, the stack only with --verbose', async () => {
    const garbageConfig = copy(done, 'garbage-config');
    writeFileSync(join(garbageConfig, 'config.resolved.json'), '{"seed": 1, "arena": ');
    expectCleanError(
      await mtsa(['run', '--cache', cache, '--resume', garbageConfig]),
      new RegExp(`^mtsa: ${join(garbageConfig, 'config.resolved.json')}: the run configuration is not valid JSON .*start a new run with --out`),
    );
    const verbose = await mtsa(['run', '--verbose', '--cache', cache, '--resume', garbageConfig]);
    expect(verbose.stderr).toMatch(/^\s+at /m);

    const nullStep = copy(done, 'null-step');
    writeFileSync(join(nullStep, 'steps', 'iteration-1__online.json'), 'null');
    expectCleanError(
      await mtsa(['run', '--cache', cache, '--resume', nullStep]),
      new RegExp(`^mtsa: ${join(nullStep, 'steps', 'iteration-1__online.json')}: not a step record .*delete it to recompute that step, then --resume`),
    );
    writeFileSync(join(nullStep, 'steps', 'iteration-1__online.json'), '{"key": "iteration-1/online", "index": 2}');
    expectCleanError(await mtsa(['run', '--cache', cache, '--resume', nullStep]), /not a step record \(field "output"/);

    const garbageCache = copy(cache, 'garbage-tokenizer');
    for (const entry of readdirSync(garbageCache)) writeFileSync(join(garbageCache, entry, 'tokenizer.json'), 'garbage');
    expectCleanError(
      await mtsa(['run', '--tiny', '--cache', garbageCache, '--out', join(base, 'garbage-tokenizer-run')]),
      /^mtsa: arena cache entry (\S+) is unusable: \1\/tokenizer\.json: not readable JSON .* Delete \1 and run again to rebuild it/,
    );

    const readOnly = await mtsa(['run', '--tiny', '--cache', cache, '--out', join(base, 'read-only')], { fault: 'erofs:config.resolved.json:1' });
    expectCleanError(readOnly, new RegExp(`^mtsa: ${join(base, 'read-only')}/\\.config\\.resolved\\.json\\.tmp-\\d+ is on a read-only file system: choose another --out / --cache$`));

    const file = join(base, 'a-file');
    writeFileSync(file, '');
    expectCleanError(
      await mtsa(['run', '--tiny', '--cache', cache, '--out', join(file, 'run')]),
      new RegExp(`^mtsa: ${join(file, 'run')}: part of this path is a file, not a directory: choose another --out`),
    );

    expectCleanError(
      await mtsa(['run', '--cache', cache, '--resume', done, '--config', config, '--ablation', 'last-turn']),
      /^mtsa: --resume continues a run with the configuration stored in it .*; it cannot also take --config, --ablation\. Drop them, or start a new run with --out$/,
    );
    const invalid = join(base, 'invalid.yaml');
    writeFileSync(invalid, 'mtsa:\n  iteratons: 2\n');
    expectCleanError(await mtsa(['run', '--tiny', '--config', invalid, '--cache', cache, '--out', join(base, 'never')]), new RegExp(`^mtsa: ${invalid}: unknown field "mtsa\\.iteratons"`));
    const huge = join(base, 'huge.yaml');
    writeFileSync(huge, Array.from({ length: 100_000 }, (_, i) => `k${i}: ${i}`).join('\n'));
    expectCleanError(await mtsa(['config', '--config', huge]), /huge\.yaml: the config file is \d+ bytes, above the limit/);
    const truncating = join(base, 'truncating.yaml');
    writeFileSync(truncating, 'mtsa:\n  sampling:\n    target:\n      maxTokens: 1000000000\n');
    expectCleanError(
      await mtsa(['run', '--tiny', '--config', truncating, '--cache', cache, '--out', join(base, 'never2')]),
      /field "mtsa\.sampling\.target\.maxTokens" is 1000000000: it would leave 0 of the target's \d+ positions/,
    );
    expect(existsSync(join(base, 'never2'))).toBe(false);
  }, 120_000);

  it('two builds of one arena cache entry: one builds, the other waits and reuses it; leftovers of a killed build are removed', async () => {
    const builder = join(root, 'test', 'faults', 'build-micro-arena.mjs');
    const fresh = join(base, 'race-cache');
    const build = () =>
      new Promise<{ dir: string; events: string[] }>((resolve, reject) => {
        const child = spawn(process.execPath, [builder, fresh], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`build exited ${code}`))));
      });
    const [a, b] = await Promise.all([build(), build()]);
    const built = [a, b].filter((r) => r.events.includes('target'));
    const waited = [a, b].filter((r) => r.events.includes('target (cached)'));
    expect(built, JSON.stringify([a.events, b.events])).toHaveLength(1);
    expect(waited).toHaveLength(1);
    expect(waited[0].events[0]).toMatch(/^lock: waiting for process \d+ on .*, which is building this cache entry$/);
    expect(readdirSync(a.dir).filter((f) => f.startsWith('.'))).toEqual([]);
    const pid = await deadPid();
    cpSync(join(a.dir, readdirSync(a.dir).find((f) => f.startsWith('target-'))!), join(a.dir, `.target-0123.tmp-${pid}`), { recursive: true });
    await build();
    expect(readdirSync(a.dir).filter((f) => f.startsWith('.'))).toEqual([]);
  }, 120_000);
});
