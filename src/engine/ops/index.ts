/** Every op of the engine, one import. */
export * from './elementwise.js';
export * from './matmul.js';
export * from './norm.js';
export * from './rope.js';
export * from './attention.js';
export * from './mlp.js';
export * from './softmax.js';
export * from './indexing.js';
