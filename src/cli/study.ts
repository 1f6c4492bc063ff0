/**
 * `mtsa study` and `mtsa run --seeds K`: K seeds × variants on one fixed evaluation panel
 * (run/run-study.ts), printed as a table of means with across-seed intervals and the claims.
 */
import { join, resolve } from 'node:path';
import type { RunConfig } from '../config/run-config.js';
import { ConfigError } from '../core/errors.js';
import type { StudySummary } from '../data/study-summary.js';
import { VARIANTS, type VariantName } from '../mtsa/variants.js';
import type { RunEvent } from '../run/run-mtsa.js';
import { runStudy, STUDY_FILES, studySeeds } from '../run/run-study.js';
import { Progress } from './progress.js';

export interface StudyCliOptions {
  base: RunConfig;
  seeds: number;
  variants?: string;
  out?: string;
  resume?: string;
  cacheDir: string;
  progressHandler: (progress: Progress) => (event: RunEvent) => void;
}

export function parseVariants(list: string | undefined): VariantName[] {
  if (!list) return [...VARIANTS];
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const name of names) if (!(VARIANTS as readonly string[]).includes(name)) throw new ConfigError(`--variants: unknown variant "${name}"; choose from ${VARIANTS.join(', ')}`);
  if (names[0] !== 'mtsa') throw new ConfigError(`--variants: the list must start with mtsa (its red teams are the fixed panel's attackers), got "${list}"`);
  return names as VariantName[];
}

const pct = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(1)}%`);

export function studyTable(s: StudySummary): string {
  const keys = ['targetAsr.T0', 'targetAsr.final', 'targetAsrCompleted.final', 'oodAsr.final', 'redteamAsr.R0', 'redteamAsr.final', 'overRefusal.final', 'helpfulness.final'];
  const lines = [`  ${'headline (mean over seeds [95% t])'.padEnd(30)}${s.variants.map((v) => v.padStart(26)).join('')}`];
  for (const key of keys) {
    const row = s.variants.map((v) => {
      const a = s.headlines[key]?.[v]?.acrossSeeds;
      if (!a) return '–'.padStart(26);
      return `${pct(a.mean)}${a.low !== null ? ` [${pct(a.low)}, ${pct(a.high)}]` : ''}`.padStart(26);
    });
    lines.push(`  ${key.padEnd(30)}${row.join('')}`);
  }
  lines.push('', '  claims (paired over seeds):');
  for (const c of s.claims) lines.push(`  - ${c.claim}: ${c.verdict} (${c.note})`);
  return lines.join('\n');
}

export async function studyCommand(options: StudyCliOptions): Promise<void> {
  if (!Number.isInteger(options.seeds) || options.seeds < 1) throw new ConfigError(`--seeds: a positive whole number of seeds, got "${options.seeds}"`);
  const variants = parseVariants(options.variants);
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const outDir = resolve(options.resume ?? options.out ?? join('runs', `${stamp}-study`));
  const progress = new Progress();
  progress.line(`mtsa study → ${outDir}${options.resume ? ' (resuming)' : ''}`);
  const summary = await runStudy({
    definition: { base: options.base, seeds: studySeeds(options.base.seed, options.seeds), variants },
    outDir,
    cacheDir: options.cacheDir,
    resume: Boolean(options.resume),
    onEvent: options.progressHandler(progress),
    log: (l) => progress.line(l),
  });
  progress.stop();
  process.stdout.write(`\nMTSA study (oracle-judged; ${summary.seeds.length} seed(s); every target on one fixed panel)\n${studyTable(summary)}\n\nreport: ${join(outDir, STUDY_FILES.report)}\n`);
}
