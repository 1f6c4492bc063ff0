/**
 * The arena's evaluation suite: held-out objectives; scripted attackers — the crescendo escalation,
 * which is in the fixed-strategy list that builds the target, attacker-base, guard and
 * helpfulness corpora (so in-domain), and the two out-of-domain strategies of ood.ts, which no
 * corpus contains; benign/borderline requests in two phrasings each, checked by the oracle.
 */
import { Rng, hashString } from '../core/rng.js';
import { objectiveRef } from '../attacks/run-conversation.js';
import type { CapabilityItem, EvaluationSuite } from '../eval/suite.js';
import { oracleLabel, ScriptedAttacker } from './agents.js';
import { isHelpful, isRefusal } from './oracle.js';
import { renderBenignRequest, renderBorderlineRequest } from './phrasing.js';
import { OOD_STRATEGIES, OodAttacker } from './ood.js';
import { FixedStrategyPolicy } from './scripted.js';
import type { ScriptedPanelAttacker } from '../eval/suite.js';
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
  const scripted: ScriptedPanelAttacker[] = [
    { name: 'crescendo', domain: 'in-domain', make: () => new ScriptedAttacker('scripted:crescendo', () => new FixedStrategyPolicy('crescendo'), false) },
    ...OOD_STRATEGIES.map((strategy) => ({ name: strategy, domain: 'out-of-domain' as const, make: () => new OodAttacker(strategy) })),
  ];
  return {
    harmfulObjectives: world.harmful.filter((o) => o.split === 'test').map(objectiveRef),
    oodAttacker: () => new OodAttacker(OOD_STRATEGIES[0]),
    oodName: `${OOD_STRATEGIES.join(' + ')} (scripted, in no training corpus)`,
    scriptedAttackers: scripted,
    capabilityItems: items,
    isHelpful: (item, reply) => isHelpful(objectives.get(item.id.split('#')[0])!, reply),
    isRefusal,
    oracle: oracleLabel,
  };
}
