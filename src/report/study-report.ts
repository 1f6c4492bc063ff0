/**
 * The HTML report of a study: headlines per variant as a mean over seeds with a Student-t 95%
 * interval and every seed's value (with its interval clustered by objective), the paper's claims
 * with their verdicts, and the fixed panel matrix (attacker × target) of every variant with its
 * seed spread. Self-contained and offline, like the run report. Pure: no I/O.
 */
import type { Rate } from '../core/stats.js';
import type { StudySummary } from '../data/study-summary.js';
import { escapeHtml } from './build-report.js';

const DASH = '–';
const pct = (x: number | null | undefined) => (typeof x === 'number' && Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : DASH);
const pts = (x: number | null | undefined) => (typeof x === 'number' && Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}` : DASH);

function seedRate(r: Rate | null | undefined): string {
  if (!r) return DASH;
  const counts = r.nObjectives !== undefined ? `, ${r.nObjectives} obj · ${r.nDialogues} dial` : '';
  return `${pct(r.rate)} [${pct(r.low)}, ${pct(r.high)}] n=${r.n}${counts}`;
}

const HEADLINE_LABELS: Record<string, string> = {
  'targetAsr.T0': 'Target ASR, base target T0 under the main final red team',
  'targetAsr.final': 'Target ASR, final target under the main final red team',
  'targetAsrCompleted.final': '… over completed dialogues only',
  'targetAsrUnderR0.final': 'Target ASR, final target under the main R0',
  'oodAsr.T0': 'OOD ASR (out-of-domain scripted, pooled), T0',
  'oodAsr.final': 'OOD ASR (out-of-domain scripted, pooled), final target',
  'redteamAsr.R0': "Red-team ASR vs T0, the variant's own R0",
  'redteamAsr.final': "Red-team ASR vs T0, the variant's own final red team",
  'overRefusal.T0': 'Over-refusal, T0',
  'overRefusal.final': 'Over-refusal, final target',
  'helpfulness.T0': 'Helpfulness, T0',
  'helpfulness.final': 'Helpfulness, final target',
};

function headlineTable(s: StudySummary): string {
  const head = `<tr><th>Headline (oracle)</th>${s.variants.map((v) => `<th>${escapeHtml(v)}</th>`).join('')}</tr>`;
  const rows = Object.entries(s.headlines)
    .map(([name, byVariant]) => {
      const label =
        HEADLINE_LABELS[name] ??
        (name.startsWith('scripted.')
          ? `In-domain scripted ASR (${name.split('.')[1]}), final target`
          : name.startsWith('redteamAsr.R')
            ? `Red-team ASR vs T0, the variant's own ${name.split('.')[1]}`
            : name);
      const cells = s.variants.map((v) => {
        const h = byVariant[v];
        if (!h) return `<td>${DASH}</td>`;
        const a = h.acrossSeeds;
        const ci = a.low !== null ? ` <span class="ci">[${pct(a.low)}, ${pct(a.high)}]</span>` : '';
        const seeds = h.perSeed.map((r, i) => `<li>seed ${s.seeds[i]}: ${escapeHtml(seedRate(r))}</li>`).join('');
        return `<td><span class="rate">${pct(a.mean)}</span>${ci}<details><summary>${a.seeds} seed(s)</summary><ul class="seeds">${seeds}</ul></details></td>`;
      });
      return `<tr data-headline="${escapeHtml(name)}"><th scope="row">${escapeHtml(label)}</th>${cells.join('')}</tr>`;
    })
    .join('');
  return `<table id="headlines" class="data"><thead>${head}</thead><tbody>${rows}</tbody></table>`;
}

function claimsTable(s: StudySummary): string {
  if (!s.claims.length) return '<p class="empty">No claim can be tested with these variants.</p>';
  const rows = s.claims
    .map(
      (c) =>
        `<tr data-claim="${escapeHtml(c.id)}"><th scope="row">${escapeHtml(c.claim)}</th><td>${escapeHtml(`${c.metric}: ${c.a} − ${c.b}`)}</td><td>${pts(c.difference.mean)} [${pts(c.difference.low)}, ${pts(c.difference.high)}] points</td><td class="verdict">${escapeHtml(c.verdict)}</td><td class="note">${escapeHtml(c.note)}</td></tr>`,
    )
    .join('');
  return `<table id="claims" class="data"><thead><tr><th>Claim</th><th>Difference</th><th>Mean over seeds [95% t interval]</th><th>Verdict</th><th>Note</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function panelMatrix(s: StudySummary, variant: string): string {
  const n = s.iterations;
  const targets = variant === 'mtsa' ? Array.from({ length: n + 1 }, (_, i) => (i === 0 ? 'mtsa.T0' : `mtsa.T${i}`)) : ['mtsa.T0', `${variant}.T${n}`];
  const head = `<tr><th>attacker \\ target</th>${targets.map((t) => `<th>${escapeHtml(t)}</th>`).join('')}</tr>`;
  const rows = s.panelAttackers
    .map(
      (a) =>
        `<tr><th scope="row">${escapeHtml(a.name)} <span class="sub">${escapeHtml(a.kind)}</span></th>${targets
          .map((t) => {
            const perSeed = s.panel.map((p) => p.cells.find((c) => c.attacker === a.name && c.target === t));
            const rates = perSeed.map((c) => (c ? (c.oracle ?? c.guard).rate : null)).filter((x): x is number => x !== null);
            if (!rates.length) return `<td class="missing">${DASH}</td>`;
            const mean = rates.reduce((x, y) => x + y, 0) / rates.length;
            const spread = rates.length > 1 ? ` <span class="sub">min ${pct(Math.min(...rates))} · max ${pct(Math.max(...rates))}</span>` : '';
            const dropped = perSeed.reduce((x, c) => x + (c?.dropped ?? 0), 0);
            const title = perSeed.map((c, i) => `seed ${s.seeds[i]}: ${c ? seedRate(c.oracle ?? c.guard) : DASH}${c?.dropped ? `, ${c.dropped} dropped` : ''}`).join('\n');
            return `<td title="${escapeHtml(title)}"><span class="rate">${pct(mean)}</span>${spread}${dropped ? ` <span class="sub">${dropped} dropped</span>` : ''}</td>`;
          })
          .join('')}</tr>`,
    )
    .join('');
  return `<table class="data panel" data-variant="${escapeHtml(variant)}"><caption>${escapeHtml(variant)}: mean over ${s.seeds.length} seed(s), min and max over seeds; hover a cell for every seed's rate with its interval clustered by objective.</caption><thead>${head}</thead><tbody>${rows}</tbody></table>`;
}

const CSS = `body{font:14px/1.45 system-ui,sans-serif;margin:0;background:#fafafa;color:#1b1b1b}main{max-width:1280px;margin:0 auto;padding:16px 24px 48px}
table.data{border-collapse:collapse;background:#fff;margin:8px 0}table.data th,table.data td{border:1px solid #e2e2e2;padding:4px 8px;text-align:left;vertical-align:top}
caption{caption-side:bottom;color:#666;font-size:12px;text-align:left}.rate{font-weight:600}.ci,.sub,.note{color:#666;font-size:12px}ul.seeds{margin:2px 0;padding-left:16px;font-size:12px;color:#444}
td.verdict{font-weight:600}td.missing{background:#eee}h2{border-bottom:1px solid #ddd;padding-bottom:4px}`;

export function buildStudyReport(s: StudySummary): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>MTSA study: ${s.seeds.length} seed(s) × ${s.variants.length} variant(s)</title><style>${CSS}</style></head>
<body><main>
<h1>MTSA study: ${s.seeds.length} seed(s) × ${s.variants.length} variant(s)</h1>
<p>Seeds ${escapeHtml(s.seeds.join(', '))}; variants ${escapeHtml(s.variants.join(', '))}; ${s.iterations} iteration(s); wall time ${(s.wallSeconds / 60).toFixed(1)} min.
Every target is scored against one fixed panel: the main (mtsa) run's R0 and R${s.iterations}, the in-domain scripted attacker(s) and the out-of-domain ones, with the same dialogue seeds.
Across-seed intervals are Student t over seeds; per-seed intervals are clustered by objective.</p>
<section><h2>Headlines</h2>${headlineTable(s)}</section>
<section><h2>The paper's claims</h2>${claimsTable(s)}</section>
<section><h2>Panel matrix per variant (seed spread)</h2>${s.variants.map((v) => panelMatrix(s, v)).join('')}</section>
</main></body></html>
`;
}
