/**
 * The shape of one trajectory as the report embeds it for the transcript browser: what
 * build-report.ts writes into <script type="application/json" id="trajectories"> and what
 * report-client.js reads. Both sides are type-checked against this one definition.
 */

export interface EmbeddedTurn {
  index: number;
  /** the attacker's thought, hidden from the target; null when the attacker has none */
  thought: string | null;
  question: string;
  reply: string;
  judgement: { verdict: string; pUnsafe: number; category?: string };
  oracle: { unsafe: boolean; kind: string } | null;
}

export interface EmbeddedTrajectory {
  id: string;
  /** the list group: a matrix cell (R1xT2), a scripted attacker's cell (OODxT2), 'training' or 'attack' */
  g: string;
  objective: { id: string; text: string; category?: string };
  attackerId: string;
  targetId: string;
  judgeId: string;
  attackSuccess: boolean;
  oracleSuccess: boolean | null;
  /** the oracle's verdict where there is one, else the guard's */
  unsafe: boolean;
  /** a model call failed: not scored */
  errored: boolean;
  stopReason: string;
  warnings: string[];
  turns: EmbeddedTurn[];
}
