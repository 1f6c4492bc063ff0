/**
 * The import-direction rule of ARCHITECTURE.md, checked on the real module graph (static, dynamic,
 * side-effect and type-only imports alike): a layer (a folder under src/) imports only from itself
 * and the layers listed for it. Run by `npm test` (npm run lint:arch).
 */
const LAYERS = require('./architecture-layers.json');

const forbidden = Object.entries(LAYERS).map(([layer, allowed]) => ({
  name: `layer-${layer}`,
  comment: `src/${layer} may import only from: ${[layer, ...allowed].join(', ')} (ARCHITECTURE.md)`,
  severity: 'error',
  from: { path: `^src/${layer}/` },
  to: { path: '^src/', pathNot: `^src/(${[layer, ...allowed].join('|')})/` },
}));

forbidden.push({
  name: 'unknown-layer',
  comment: 'every folder under src/ must be a layer in architecture-layers.json',
  severity: 'error',
  from: { path: '^src/[^/]+/', pathNot: `^src/(${Object.keys(LAYERS).join('|')})/` },
  to: {},
});

forbidden.push({
  name: 'not-to-unresolvable',
  comment: 'an import that cannot be resolved',
  severity: 'error',
  from: {},
  to: { couldNotResolve: true },
});

module.exports = {
  forbidden,
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^dist/|\\.test\\.ts$)' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
