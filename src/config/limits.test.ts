import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkRunLimits, describeWork, estimateWork } from './limits.js';
import { loadRunConfig, MAX_CONFIG_BYTES, parseRunConfig, tinyRunConfig } from './run-config.js';

const dir = mkdtempSync(join(tmpdir(), 'mtsa-limits-'));
const write = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('config limits', () => {
  it('the default and tiny configs are within every limit', () => {
    expect(() => checkRunLimits(parseRunConfig({}))).not.toThrow();
    expect(() => checkRunLimits(tinyRunConfig())).not.toThrow();
  });

  it('refuses counts far above any sensible run, naming every field', () => {
    const config = parseRunConfig({ arena: { corpora: { targetDialogues: 1e8 } }, evaluation: { repeats: 1e6 } });
    expect(() => checkRunLimits(config, 'big.yaml')).toThrow(
      'big.yaml: field "arena.corpora.targetDialogues" is 100000000, above the limit of 200000\nbig.yaml: field "evaluation.repeats" is 1000000, above the limit of 1000',
    );
  });

  it('refuses a reply budget that would silently cut prompts', () => {
    const config = parseRunConfig({ mtsa: { sampling: { target: { maxTokens: 1e9 } } } });
    expect(() => checkRunLimits(config, 'c.yaml')).toThrow(/c\.yaml: field "mtsa\.sampling\.target\.maxTokens" is 1000000000: it would leave 0 of the target's 512 positions .* set it to at most 256/);
  });

  it('estimates the work before a run', () => {
    const estimate = estimateWork(parseRunConfig({}));
    // 3 iterations × (128 online + 96 groups × 4 temperatures + 96 pairs) dialogues, 5 turns of ≤ 96 + 80 tokens
    expect(estimate.trainingDialogues).toBe(3 * (128 + 96 * 4 + 96));
    expect(estimate.trainingTokens).toBe(estimate.trainingDialogues * 5 * (96 + 80));
    expect(estimate.corpusExamples).toBe(6000 + 8000 + 3000 + 4000 + 6000 + 4000 + 4000);
    expect(describeWork(estimate)).toBe('work: 35.0k arena corpus examples (built once, cached), ≤ 1.8k training dialogues, ≤ 1.6M generated tokens before evaluation');
  });
});

describe('config files', () => {
  it('refuses a file above the size limit before parsing it (100k keys took 108 s in the YAML parser)', () => {
    const path = write('huge.yaml', Array.from({ length: 100_000 }, (_, i) => `k${i}: ${i}`).join('\n'));
    const started = performance.now();
    expect(() => loadRunConfig(path)).toThrow(new RegExp(`huge\\.yaml: the config file is \\d+ bytes, above the limit of ${MAX_CONFIG_BYTES}`));
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('--tiny with --config merges the file over the tiny config, and an invalid file is an error, not ignored', () => {
    const path = write('fast.yaml', 'mtsa:\n  stage1:\n    train:\n      epochs: 1\n');
    const merged = loadRunConfig(path, tinyRunConfig());
    expect(merged.mtsa.stage1.train).toEqual({ ...tinyRunConfig().mtsa.stage1.train, epochs: 1 });
    expect(merged.arena).toEqual(tinyRunConfig().arena);
    const bad = write('bad.yaml', 'mtsa:\n  stage1:\n    trian: {}\n');
    expect(() => loadRunConfig(bad, tinyRunConfig())).toThrow(/bad\.yaml: unknown field "mtsa\.stage1\.trian"/);
  });
});
