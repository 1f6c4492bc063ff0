/**
 * The import-direction rule (ARCHITECTURE.md), checked on every source file: a layer imports only
 * from the layers listed for it. The algorithm (mtsa/, training/, attacks/) never sees the engine
 * or the arena; the engine knows nothing about chat.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ALLOWED: Record<string, string[]> = {
  core: [],
  engine: ['core'],
  models: ['core', 'engine'],
  export: ['core', 'engine', 'models'],
  attacks: ['core'],
  data: ['core', 'attacks'],
  training: ['core'],
  judges: ['core'],
  mtsa: ['core', 'attacks', 'data', 'training'],
  eval: ['core', 'attacks', 'data', 'mtsa'],
  storage: ['core', 'data'],
  report: ['core', 'data'],
  arena: ['core', 'engine', 'models', 'attacks', 'data', 'eval'],
  config: ['core', 'arena', 'mtsa', 'models'],
  run: ['core', 'engine', 'models', 'attacks', 'data', 'training', 'mtsa', 'eval', 'storage', 'report', 'arena', 'config', 'judges'],
  cli: ['core', 'engine', 'models', 'attacks', 'data', 'training', 'mtsa', 'eval', 'storage', 'report', 'arena', 'config', 'run', 'judges', 'export'],
  testing: ['core', 'engine', 'models', 'attacks', 'data', 'training', 'mtsa', 'eval', 'storage', 'report', 'arena', 'config', 'run', 'judges'],
};

const src = dirname(fileURLToPath(import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('architecture', () => {
  it('every layer imports only from the layers it may depend on', () => {
    const violations: string[] = [];
    for (const file of sourceFiles(src)) {
      const layer = relative(src, file).split('/')[0];
      if (!layer.includes('/') && !(layer in ALLOWED)) {
        if (layer.endsWith('.ts')) continue; // top-level files (this test) are not a layer
        violations.push(`${relative(src, file)}: layer "${layer}" is not in the rule table`);
        continue;
      }
      for (const match of readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
        const target = relative(src, resolve(dirname(file), match[1])).split('/')[0];
        if (target !== layer && !ALLOWED[layer].includes(target)) violations.push(`${relative(src, file)} imports ${match[1]} (${layer} → ${target})`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('the rule table is acyclic', () => {
    const visiting = new Set<string>();
    const visit = (layer: string, path: string[]): void => {
      expect(visiting.has(layer), `cycle: ${[...path, layer].join(' → ')}`).toBe(false);
      visiting.add(layer);
      for (const next of ALLOWED[layer]) visit(next, [...path, layer]);
      visiting.delete(layer);
    };
    for (const layer of Object.keys(ALLOWED)) visit(layer, []);
  });
});
