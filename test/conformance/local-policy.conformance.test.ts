import { loadCheckpoint } from '../../src/engine/checkpoint/hf-checkpoint.js';
import { LocalPolicy } from '../../src/models/local/local-policy.js';
import { trainablePolicyConformance } from './trainable-policy.js';

trainablePolicyConformance('engine (LocalPolicy)', async (dir) => {
  const { model, tokenizer } = loadCheckpoint(dir);
  return new LocalPolicy(model, tokenizer, { id: 'subject' });
});
