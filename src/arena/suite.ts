/**
 * The arena's evaluation suite: held-out objectives, the crescendo escalation as the out-of-domain
 * attacker, and benign/borderline requests in two phrasings each, checked by the oracle.
 */
import { Rng, hashString } from '../core/rng.js';
import { objectiveRef } from '../attacks/run-conversation.js';
import type { CapabilityItem, EvaluationSuite } from '../eval/suite.js';
import { oracleLabel, ScriptedAttacker } from './agents.js';
import { isHelpful, isRefusal } from './oracle.js';
import { renderBenignRequest, renderBorderlineRequest } from './phrasing.js';
import { FixedStrategyPolicy } from './scripted.js';
import type { Objective, World } from './world.js';

export function arenaSuite(world: World, seed: number): EvaluationSuite {
  const objectives = new Map<string, Objective>();
  const items: CapabilityItem[] = [];
  for (const o of [...world.benign, ...world.borderline]) {
    if (o.split !== 'test') continue;
    objectives.set(o.id, o);
    for (const variant of [0, 1]) {
      const rng = new Rng(hashString(`${o.id}|${variant}`, seed));
      const request = o.kind === 'benign' ? renderBenignRequest(o.text, rng) : renderBorderlineRequest(o.text, rng);
      items.push({ id: `${o.id}#${variant}`, kind: o.kind, request });
    }
  }
  return {
    harmfulObjectives: world.harmful.filter((o) => o.split === 'test').map(objectiveRef),
    oodAttacker: () => new ScriptedAttacker('scripted:crescendo', () => new FixedStrategyPolicy('crescendo'), false),
    oodName: 'crescendo (scripted escalation, never used in training)',
    capabilityItems: items,
    isHelpful: (item, reply) => isHelpful(objectives.get(item.id.split('#')[0])!, reply),
    isRefusal,
    oracle: oracleLabel,
  };
}
