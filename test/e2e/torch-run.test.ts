/**
 * `mtsa run --tiny --trainer torch`: the arena run with both policies trained by the PyTorch
 * worker. It is killed in the middle of iteration 1 and resumed; the resumed run completes without
 * recomputing stored steps or duplicating records, and its summary moves the same way as the engine
 * run's: the fixed-attacker attack success rates against the target (out-of-domain and in-domain
 * scripted) fall from T0 to T1 in both. The rate under the run's own red team R1 is not compared:
 * after 10–12 DPO pairs the tiny red team's strength swings from run to run (R1 vs T0 was 9–56 %
 * over six tiny runs of two kernel sets), so its T0→T1 direction is a coin flip at n = 54.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { venvPython } from '../conformance/python-venv.js';
import { runAndKill, runToEnd } from './run-child.js';

const { python, reason } = venvPython();
const childEnv = { ...process.env, ...(python ? { MTSA_VENV: dirname(dirname(python)) } : {}) };

const lines = (dir: string, file: string) => readFileSync(join(dir, file), 'utf8').split('\n').filter(Boolean);
const summary = (dir: string) => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));

describe.skipIf(!python)(`mtsa run --trainer torch${python ? '' : ` (skipped: ${reason})`}`, () => {
  it('completes after a kill and a resume, and moves the same way as the engine run', async () => {
    const cache = inject('arenaCache');
    const base = mkdtempSync(join(tmpdir(), 'mtsa-torch-run-'));
    const torchDir = join(base, 'torch');
    const engineDir = join(base, 'engine');

    await runAndKill(['run', '--tiny', '--cache', cache, '--trainer', 'torch', '--out', torchDir], torchDir, 'iteration-1__red-team-resampling.json', childEnv);
    const config = JSON.parse(readFileSync(join(torchDir, 'config.resolved.json'), 'utf8'));
    expect(config.trainer.attacker.kind).toBe('torch');
    expect(config.trainer.target.kind).toBe('torch');
    const stepsBefore = readdirSync(join(torchDir, 'steps'))
      .filter((f) => f.endsWith('.json'))
      .sort();
    const stored = Object.fromEntries(stepsBefore.map((f) => [f, readFileSync(join(torchDir, 'steps', f), 'utf8')]));

    const resumed = runToEnd(['run', '--cache', cache, '--resume', torchDir], childEnv);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/attacker: PyTorch worker on cpu/);
    expect(resumed.stderr).toMatch(new RegExp(`resuming: ${stepsBefore.length} completed steps reused`));
    for (const [file, content] of Object.entries(stored)) expect(readFileSync(join(torchDir, 'steps', file), 'utf8')).toBe(content);
    for (const file of ['trajectories.jsonl', 'pairs.jsonl', 'metrics.jsonl']) {
      const got = lines(torchDir, file);
      expect(new Set(got).size, `${file} has duplicate records`).toBe(got.length);
    }
    expect(existsSync(join(torchDir, 'checkpoints', 'target-T1', 'model.safetensors'))).toBe(true);

    const engine = runToEnd(['run', '--tiny', '--cache', cache, '--out', engineDir], childEnv);
    expect(engine.status, engine.stderr).toBe(0);
    const [t, e] = [summary(torchDir), summary(engineDir)];
    const sign = (x: number) => Math.sign(Math.round(x * 1000));
    const scripted = (s: typeof t, target: number): number => s.scripted.find((x: { domain: string; target: number }) => x.domain === 'in-domain' && x.target === target).oracle.rate;
    const moves = (s: typeof t) => ({ inDomainScriptedAsr: sign(scripted(s, 1) - scripted(s, 0)), oodAsr: sign(s.oodAsr.T1 - s.oodAsr.T0) });
    console.log(
      `in-domain scripted ASR T0→T1: torch ${scripted(t, 0).toFixed(3)}→${scripted(t, 1).toFixed(3)}, engine ${scripted(e, 0).toFixed(3)}→${scripted(e, 1).toFixed(3)}; OOD ASR: torch ${t.oodAsr.T0.toFixed(3)}→${t.oodAsr.T1.toFixed(3)}, engine ${e.oodAsr.T0.toFixed(3)}→${e.oodAsr.T1.toFixed(3)}; target ASR under R1: torch ${t.asr.target.T0.toFixed(3)}→${t.asr.target.T1.toFixed(3)}, engine ${e.asr.target.T0.toFixed(3)}→${e.asr.target.T1.toFixed(3)}`,
    );
    expect(moves(t)).toEqual({ inDomainScriptedAsr: -1, oodAsr: -1 });
    expect(moves(e)).toEqual(moves(t));
    // Stage 1 SFT is the same computation in both trainers: the same loss curve.
    const sftLoss = (dir: string) =>
      lines(dir, 'metrics.jsonl')
        .map((l) => JSON.parse(l))
        .filter((m) => m.step === 'stage1/sft')
        .map((m) => m.values.loss as number);
    const [ts, es] = [sftLoss(torchDir), sftLoss(engineDir)];
    expect(ts.length).toBe(es.length);
    ts.forEach((l, i) => expect(Math.abs(l - es[i]) / es[i]).toBeLessThan(1e-3));
  }, 1_200_000);
});
