/**
 * Runs one or two judges over labelled transcripts and measures them (judge-agreement.ts): the
 * figures behind `mtsa judge-eval`, with a breakdown by the transcripts' source.
 */
import type { Judge, Judgement } from '../core/models.js';
import type { LabelledTranscript } from '../data/loaders/labelled-transcripts.js';
import { compareJudges, judgeMetrics, type JudgeComparison, type JudgeMetrics } from './judge-agreement.js';

export interface JudgeEvalResult {
  judgeId: string;
  metrics: JudgeMetrics;
  /** per `source` of the transcripts (e.g. each scripted attacker), when the file names sources */
  bySource: { source: string; metrics: JudgeMetrics }[];
  judgements: Judgement[];
}

export interface JudgeEvalReport {
  n: number;
  results: JudgeEvalResult[];
  /** between the first two judges */
  comparison?: JudgeComparison;
}

async function judgeAll(judge: Judge, transcripts: readonly LabelledTranscript[], chunk: number, onProgress?: (done: number, total: number) => void): Promise<Judgement[]> {
  const out: Judgement[] = [];
  for (let i = 0; i < transcripts.length; i += chunk) {
    const judged = await judge.judge(transcripts.slice(i, i + chunk).map((t) => t.conversation));
    if (judged.length !== Math.min(chunk, transcripts.length - i)) throw new Error(`${judge.id} returned ${judged.length} judgements for ${Math.min(chunk, transcripts.length - i)} conversations`);
    out.push(...judged);
    onProgress?.(out.length, transcripts.length);
  }
  return out;
}

export async function evaluateJudges(
  judges: readonly Judge[],
  transcripts: readonly LabelledTranscript[],
  options: { chunk?: number; onProgress?: (judgeId: string, done: number, total: number) => void } = {},
): Promise<JudgeEvalReport> {
  const results: JudgeEvalResult[] = [];
  for (const judge of judges) {
    const judgements = await judgeAll(judge, transcripts, options.chunk ?? 128, (d, t) => options.onProgress?.(judge.id, d, t));
    const items = transcripts.map((t, i) => ({ label: t.label, verdict: judgements[i].verdict, pUnsafe: judgements[i].pUnsafe }));
    const sources = [...new Set(transcripts.map((t) => t.source).filter((s): s is string => s !== undefined))].sort();
    results.push({
      judgeId: judge.id,
      metrics: judgeMetrics(items),
      bySource: sources.map((source) => ({ source, metrics: judgeMetrics(items.filter((_, i) => transcripts[i].source === source)) })),
      judgements,
    });
  }
  return { n: transcripts.length, results, ...(results.length >= 2 ? { comparison: compareJudges(results[0].judgements, results[1].judgements) } : {}) };
}
