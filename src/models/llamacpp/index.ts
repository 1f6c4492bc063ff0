/**
 * The `llama-cpp` backend: GGUF models in-process on CPU. `createLlamaCppModel` is the factory the
 * per-role model specs call for kind 'llama-cpp'.
 */
import { LlamaCppModel } from './llamacpp-model.js';
import type { LlamaCppModelSpecInput } from './spec.js';

export { LlamaCppModel } from './llamacpp-model.js';
export { LlamaCppJudge } from './llamacpp-judge.js';
export { LlamaCppModelSpecSchema, type LlamaCppModelSpecInput } from './spec.js';

/** Loads the GGUF a spec names; the model is a ChatModel and a CompletionModel (dispose() frees it). */
export function createLlamaCppModel(spec: LlamaCppModelSpecInput): Promise<LlamaCppModel> {
  return LlamaCppModel.load(spec);
}
