import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { attackConfigFrom } from './attack.js';

describe('mtsa attack flags', () => {
  it('--target-url/--target-model make the target a server; flags win over the config file, which keeps the rest', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'mtsa-attack-flags-')), 'attack.yaml');
    writeFileSync(
      file,
      'maxTurns: 4\nmodels:\n  target:\n    kind: openai-compatible\n    baseUrl: http://old/v1\n    model: old\n    flavour: ollama\n    traffic: { requestsPerMinute: 60 }\n  judge: { kind: openai-compatible, baseUrl: "http://judge/v1", model: j }\n',
    );
    const config = attackConfigFrom({ config: file, targetUrl: 'http://127.0.0.1:8000/v1', targetModel: 'llama', concurrency: 3, apiKeyEnv: 'KEY', turns: 2 });
    expect(config.maxTurns).toBe(2);
    expect(config.models.target).toMatchObject({
      kind: 'openai-compatible',
      baseUrl: 'http://127.0.0.1:8000/v1',
      model: 'llama',
      flavour: 'ollama',
      apiKeyEnv: 'KEY',
      traffic: { concurrency: 3, requestsPerMinute: 60 },
    });
    expect(config.models.judge).toMatchObject({ kind: 'openai-compatible', model: 'j' });
    expect(config.models.attacker).toEqual({ kind: 'arena' });
  });

  it('half a target, or server flags without a server, are errors that say what to add', () => {
    expect(() => attackConfigFrom({ targetUrl: 'http://x/v1' })).toThrow(/--target-url and --target-model go together/);
    expect(() => attackConfigFrom({ concurrency: 4 })).toThrow(/apply to a server target: give --target-url and --target-model/);
    expect(() => attackConfigFrom({ targetUrl: 'localhost:8000', targetModel: 'm' })).toThrow(/command line: field "models\.target\.baseUrl": must be an http\(s\) URL/);
  });
});
