/**
 * The judge and data commands as a user runs them (the built CLI in a child process, the tiny
 * arena from the test cache): export the oracle-labelled transcripts, measure the guard against
 * the oracle, make Stage-1 data, and the errors a user sees for bad input.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'bin', 'mtsa.js');
const mtsa = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

describe('judge-eval, arena export-labels and stage1-data on the command line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mtsa-judges-cli-'));

  it('exports the tiny arena labels and measures the arena guard against the oracle, with κ', () => {
    const labels = join(dir, 'labels.jsonl');
    const exported = mtsa(['arena', 'export-labels', '--tiny', '--cache', inject('arenaCache'), '-o', labels]);
    expect(exported.status, exported.stderr).toBe(0);
    expect(exported.stderr).toMatch(/wrote \d+ oracle-labelled transcripts \(\d+ unsafe, \d+ safe\)/);
    const json = join(dir, 'eval.json');
    const evaluated = mtsa(['judge-eval', '--tiny', '--cache', inject('arenaCache'), '--judge', 'arena-guard', '--judge2', 'arena-oracle', '--labels', labels, '--json', json]);
    expect(evaluated.status, evaluated.stderr).toBe(0);
    expect(evaluated.stdout).toContain('== arena:guard');
    expect(evaluated.stdout).toMatch(/recall on unsafe\s+\d+\.\d%/);
    expect(evaluated.stdout).toMatch(/Cohen's κ between arena:guard and arena:oracle: -?\d\.\d{3}/);
    const figures = JSON.parse(readFileSync(json, 'utf8'));
    expect(figures.results[1].metrics.accuracy.rate).toBe(1);
    expect(figures.results[0].metrics.n).toBe(figures.n);
  }, 180_000);

  it('bad input: a judge on a string that names no model, a bad labels line', () => {
    const fixture = join(root, 'test/fixtures/data/labelled.jsonl');
    const served = mtsa(['judge-eval', '--judge', 'llama-guard-3:lg3', '--labels', fixture]);
    expect(served.status).toBe(1);
    expect(served.stderr).toMatch(/"lg3" names no model: use http:\/\/host:port\/v1#model-name/);
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"conversation": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "label": "maybe"}\n');
    const result = mtsa(['judge-eval', '--judge', 'arena-oracle', '--labels', bad]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`${bad}:1: field "label"`);
  });

  it('stage1-data runs the attack loop and writes what it kept', () => {
    const objectives = join(dir, 'objectives.jsonl');
    writeFileSync(objectives, '{"id": "a", "goal": "[harmful objective 1]", "category": "violent-crimes"}\n');
    const out = join(dir, 'stage1.jsonl');
    const result = mtsa([
      'stage1-data',
      '--tiny',
      '--cache',
      inject('arenaCache'),
      '--attacker',
      'arena:attacker',
      '--target',
      'arena:target',
      '--judge',
      'arena-guard',
      '--objectives',
      objectives,
      '--out',
      out,
      '--attempts',
      '2',
      '--max-turns',
      '2',
      '--no-instructions',
    ]);
    expect(result.status, result.stderr).toBe(0);
    const kept = Number(/stage1-data: (\d+) successful of 2 dialogues/.exec(result.stdout)?.[1]);
    expect(kept).toBeGreaterThanOrEqual(0);
    expect(readFileSync(out, 'utf8').split('\n').filter(Boolean)).toHaveLength(kept);
  }, 120_000);
});
