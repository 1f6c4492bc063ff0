/**
 * A fixed attacker whose turns come from a file (CoSafe-style multi-turn sets): turn N asks the
 * script's N-th user message, whatever the target answered before. Dialogues are keyed by their
 * objective id; when a script has no N-th question the proposal fails with reason `script-ended`
 * (the dialogue stops there, as the file's dialogue does).
 */
import type { ObjectiveRef } from '../core/trajectory.js';
import type { AttackerAgent, AttackerProposal, AttackerView } from './attacker.js';

export interface AttackScript {
  objective: ObjectiveRef;
  questions: readonly string[];
}

export class FixedScriptAttacker implements AttackerAgent {
  private readonly scripts: Map<string, readonly string[]>;
  constructor(
    readonly id: string,
    scripts: readonly AttackScript[],
  ) {
    this.scripts = new Map(scripts.map((s) => [s.objective.id, s.questions]));
  }

  /** the most questions any script holds (the turns its evaluation needs) */
  get longestScript(): number {
    return Math.max(0, ...[...this.scripts.values()].map((q) => q.length));
  }

  async propose(views: readonly AttackerView[]): Promise<AttackerProposal[]> {
    return views.map((view): AttackerProposal => {
      const questions = this.scripts.get(view.objective.id);
      if (!questions) return { ok: false, attempts: 1, tokens: 0, lastMessage: '', reason: `no script for objective ${view.objective.id}` };
      const question = questions[view.turns.length];
      if (question === undefined) return { ok: false, attempts: 1, tokens: 0, lastMessage: '', reason: 'script-ended' };
      return { ok: true, message: question, question, attempts: 1, tokens: 0 };
    });
  }
}
