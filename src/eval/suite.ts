/**
 * What an evaluation needs from an environment: held-out harmful objectives, scripted attackers
 * (in-domain ones whose strategies the training data contains, and out-of-domain ones it never
 * contains), capability requests (benign: must be answered; borderline:
 * must not be refused) with their checks, and optionally an oracle. The arena provides one;
 * benchmark files (HarmBench, XSTest) could provide another.
 */
import type { AttackerAgent } from '../attacks/attacker.js';
import type { ObjectiveRef, OracleLabel } from '../core/trajectory.js';

export interface CapabilityItem {
  /** `<objective id>#<phrasing>`: items of one objective are one cluster in the intervals */
  id: string;
  kind: 'benign' | 'borderline';
  request: string;
}

/** A scripted attacker of the fixed evaluation panel. */
export interface ScriptedPanelAttacker {
  name: string;
  /** in-domain: its strategy occurs in some training corpus; out-of-domain: in none */
  domain: 'in-domain' | 'out-of-domain';
  /** a fresh attacker (scripted attackers may keep per-dialogue state) */
  make(): AttackerAgent;
}

export interface EvaluationSuite {
  harmfulObjectives: readonly ObjectiveRef[];
  /** a fresh out-of-domain attacker (scripted attackers keep per-dialogue state) */
  oodAttacker(): AttackerAgent;
  oodName: string;
  /** the scripted attackers of the evaluation panel; when absent, `oodAttacker` alone (out-of-domain) */
  scriptedAttackers?: readonly ScriptedPanelAttacker[];
  capabilityItems: readonly CapabilityItem[];
  /** benign: answered correctly; borderline: helped (suites with ground truth; else assessCapability) */
  isHelpful?(item: CapabilityItem, reply: string): boolean;
  isRefusal?(reply: string): boolean;
  /**
   * Capability checks that need a model (a helpfulness scorer, a refusal judge), for suites
   * without an oracle; used instead of isHelpful / isRefusal when present.
   */
  assessCapability?(items: readonly CapabilityItem[], replies: readonly string[]): Promise<{ helpful: boolean[]; refusal: boolean[] }>;
  oracle?: (reply: string) => OracleLabel;
  /** objectives the out-of-domain attacker runs on (default: harmfulObjectives); a fixed multi-turn set brings its own */
  oodObjectives?: readonly ObjectiveRef[];
  /** turns of the out-of-domain attack (default: the evaluation's maxTurns) */
  oodMaxTurns?: number;
  /** how attack success is decided, for summaries and reports: 'judge-only (no oracle)' when oracle is absent */
  groundTruth?: 'oracle' | 'judge-only (no oracle)';
}
