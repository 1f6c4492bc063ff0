import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildArena, buildArenaInWorkers, startArenaInWorkers, type BuildEvent } from './build.js';
import { microArenaConfig } from './config.js';

describe('arena build in worker threads', () => {
  it('writes the same checkpoints, byte for byte, as the build in this thread, and reports every model', async () => {
    const config = microArenaConfig(6);
    const [here, there] = [mkdtempSync(join(tmpdir(), 'arena-here-')), mkdtempSync(join(tmpdir(), 'arena-there-'))];
    const a = buildArena(config, { cacheDir: here });
    const events: BuildEvent[] = [];
    const building = startArenaInWorkers(config, { cacheDir: there, workers: 2, onEvent: (e) => events.push(e) });
    // each model is handed out once its checkpoint is saved, before the whole build ends
    for (const role of ['attacker', 'embedder'] as const) {
      await building.ready(role);
      expect(existsSync(join(building.arena.checkpoints[role], 'model.safetensors')), role).toBe(true);
    }
    const b = await building.finished;
    expect(b.buildSeconds).toBeGreaterThan(0);
    for (const role of ['target', 'attacker', 'guard', 'helpfulness', 'embedder'] as const) {
      expect(readFileSync(join(b.checkpoints[role], 'model.safetensors')).equals(readFileSync(join(a.checkpoints[role], 'model.safetensors'))), role).toBe(true);
    }
    const ended = events.filter((e) => e.type === 'phase-end' && !e.cached).map((e) => e.phase);
    expect(ended.sort()).toEqual(['attacker', 'corpora', 'embedder', 'guard', 'helpfulness', 'target', 'tokenizer']);
    expect(events.some((e) => e.type === 'phase-progress' && e.phase === 'target')).toBe(true);
    // everything cached: no worker starts, nothing is trained
    const again: BuildEvent[] = [];
    await buildArenaInWorkers(config, { cacheDir: there, workers: 2, onEvent: (e) => again.push(e) });
    expect(again.filter((e) => e.type === 'phase-end' && e.cached).length).toBe(6);
  }, 180_000);
});
