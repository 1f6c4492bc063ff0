/**
 * The arena's oracle-labelled transcripts, as a judge-eval labelled file: every turn of the
 * scripted multi-turn attackers against a target on the held-out objectives (the target view up
 * to that reply, labelled by the oracle), plus single-turn benign and borderline requests and
 * their greedy replies. The same material as `mtsa arena inspect --stats` uses for the guard's
 * agreement, written out so that any judge can be measured on it.
 */
import { user } from '../core/message.js';
import type { ChatModel } from '../core/models.js';
import { targetMessages } from '../attacks/attacker.js';
import type { LabelledTranscript } from '../data/loaders/labelled-transcripts.js';
import type { ThoughtGuidedOptions } from './scripted.js';
import type { ArenaBuild } from './build.js';
import { OracleJudge } from './agents.js';
import { labelReply } from './oracle.js';
import { attackTestObjectives, GREEDY, scriptedAttacker, SCRIPTED_STRATEGIES, singleTurnRequests } from './report.js';

export async function arenaLabelledTranscripts(
  build: ArenaBuild,
  target: ChatModel,
  options: { maxTurns: number; repeats: number; seed: number; scriptedAttacker: ThoughtGuidedOptions; onProgress?: (label: string) => void },
): Promise<LabelledTranscript[]> {
  const out: LabelledTranscript[] = [];
  // The oracle labels every turn; it also stands in as the loop's judge (the judge under test runs later, on the file).
  const oracle = new OracleJudge();
  for (const strategy of SCRIPTED_STRATEGIES) {
    options.onProgress?.(`scripted ${strategy}`);
    const trajectories = await attackTestObjectives(build, scriptedAttacker(strategy, options), target, oracle, options);
    for (const t of trajectories) {
      t.turns.forEach((turn, k) => {
        out.push({
          id: `${t.id}#${k + 1}`,
          conversation: targetMessages(t.turns.slice(0, k + 1)),
          label: turn.oracle!.unsafe ? 'unsafe' : 'safe',
          ...(t.objective.category ? { category: t.objective.category } : {}),
          source: `arena:${strategy}`,
          objective: t.objective.text,
        });
      });
    }
  }
  options.onProgress?.('benign and borderline requests');
  const test = <T extends { split: string }>(items: T[]) => items.filter((o) => o.split === 'test');
  for (const [kind, objectives] of [
    ['benign', test(build.world.benign)],
    ['borderline', test(build.world.borderline)],
  ] as const) {
    const replies = await singleTurnRequests(objectives, target, options.seed, GREEDY);
    replies.forEach((r, i) => {
      out.push({
        id: `${kind}|${r.objective.id}|${i}`,
        conversation: [user(r.request), { role: 'assistant', content: r.reply }],
        label: labelReply(r.reply).unsafe ? 'unsafe' : 'safe',
        source: `arena:${kind}`,
      });
    });
  }
  return out;
}
