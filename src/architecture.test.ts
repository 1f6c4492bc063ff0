/**
 * The import-direction rule (ARCHITECTURE.md) lives in architecture-layers.json; dependency-cruiser
 * checks every real import against it (`npm run lint:arch`, part of `npm test`: static, dynamic,
 * side-effect and type-only imports). Here: the table itself is sound.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = dirname(fileURLToPath(import.meta.url));
const ALLOWED = JSON.parse(readFileSync(join(src, '..', 'architecture-layers.json'), 'utf8')) as Record<string, string[]>;

describe('architecture', () => {
  it('every folder under src/ is a layer, and every layer it may import is one too', () => {
    const folders = readdirSync(src).filter((name) => statSync(join(src, name)).isDirectory());
    expect(folders.filter((f) => !(f in ALLOWED))).toEqual([]);
    expect(
      Object.values(ALLOWED)
        .flat()
        .filter((l) => !(l in ALLOWED)),
    ).toEqual([]);
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
