import { describe, it } from 'vitest';
import { TorchPolicy } from '../../src/models/torch/torch-policy.js';
import { venvPython } from './python-venv.js';
import { trainablePolicyConformance } from './trainable-policy.js';

const { python, reason } = venvPython();
if (python) trainablePolicyConformance('PyTorch worker (TorchPolicy, cpu, fp32)', (dir) => TorchPolicy.open(dir, { id: 'subject', python, threads: 1 }));
else describe.skip(`TorchPolicy conformance (${reason})`, () => it('needs the venv', () => {}));
