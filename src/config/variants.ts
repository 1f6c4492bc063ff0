/**
 * A run configuration for each variant of the study (mtsa/variants.ts): the method's switches
 * change; the arena, seed and evaluation (turns included) stay those of the base configuration.
 */
import { variantConfig, type VariantName } from '../mtsa/variants.js';
import type { RunConfig } from './run-config.js';

export function withVariant(config: RunConfig, variant: VariantName): RunConfig {
  const { mtsa, evaluationTurns } = variantConfig(config.mtsa, variant);
  return { ...config, mtsa, evaluation: { ...config.evaluation, maxTurns: config.evaluation.maxTurns ?? evaluationTurns } };
}
