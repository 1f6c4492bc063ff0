/**
 * What an evaluation needs from an environment: held-out harmful objectives, an out-of-domain
 * attacker the training never used, capability requests (benign: must be answered; borderline:
 * must not be refused) with their checks, and optionally an oracle. The arena provides one;
 * benchmark files (HarmBench, XSTest) could provide another.
 */
import type { AttackerAgent } from '../attacks/attacker.js';
import type { ObjectiveRef, OracleLabel } from '../core/trajectory.js';

export interface CapabilityItem {
  id: string;
  kind: 'benign' | 'borderline';
  request: string;
}

export interface EvaluationSuite {
  harmfulObjectives: readonly ObjectiveRef[];
  /** a fresh out-of-domain attacker (scripted attackers keep per-dialogue state) */
  oodAttacker(): AttackerAgent;
  oodName: string;
  capabilityItems: readonly CapabilityItem[];
  /** benign: answered correctly; borderline: helped */
  isHelpful(item: CapabilityItem, reply: string): boolean;
  isRefusal(reply: string): boolean;
  oracle?: (reply: string) => OracleLabel;
}
