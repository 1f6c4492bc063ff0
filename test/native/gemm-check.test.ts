/**
 * Builds native/test/gemm-check.c against native/gemm.c three ways — for this CPU, for AVX2 without
 * AVX-512, and for plain x86-64-v2 (scalar fmaf) — and runs each: every build must pass its checks
 * and print the same hash of all its results, the promise that a product's bytes depend neither on
 * the instruction set nor on how the product is split between threads. Needs gcc, which building
 * the addon needs too; in CI (CI=true) a missing compiler is a failure, not a skip.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { arch, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const hasGcc = spawnSync('gcc', ['--version']).status === 0;
if (!hasGcc && process.env.CI === 'true') throw new Error('gcc is missing: the native kernels cannot be checked (install build-essential)');
const dir = mkdtempSync(join(tmpdir(), 'mtsa-gemm-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function buildAndRun(name: string, march: string[]): { hash: string; output: string } {
  const binary = join(dir, name);
  const flags = ['-O3', '-std=gnu11', '-fno-math-errno', '-fno-trapping-math', `-I${join(root, 'native')}`];
  execFileSync('gcc', [...flags, ...march, '-o', binary, join(root, 'native', 'test', 'gemm-check.c'), join(root, 'native', 'gemm.c'), '-lm', '-lpthread']);
  const run = spawnSync(binary, ['--no-bench'], { encoding: 'utf8' });
  expect(run.status, `${name}: ${run.stdout}${run.stderr}`).toBe(0);
  expect(run.stdout).toContain('ALL OK');
  const hash = /result hash: ([0-9a-f]{16})/.exec(run.stdout)?.[1];
  expect(hash, run.stdout).toBeDefined();
  return { hash: hash!, output: run.stdout };
}

describe.runIf(hasGcc)('native matrix product', () => {
  it('passes its checks and gives the same bytes on AVX-512, AVX2 and scalar builds', { timeout: 120_000 }, () => {
    const native = buildAndRun('native', ['-march=native']);
    if (arch() !== 'x64') return; // the instruction-set variants below are x86 ones
    const avx2 = buildAndRun('avx2', ['-march=x86-64-v3', '-mno-avx512f']);
    const scalar = buildAndRun('scalar', ['-march=x86-64-v2']);
    expect(avx2.output).toMatch(/isa: avx2/);
    expect(scalar.output).toMatch(/isa: scalar/);
    expect(avx2.hash).toBe(native.hash);
    expect(scalar.hash).toBe(native.hash);
  });
});
