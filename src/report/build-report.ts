/**
 * Builds the HTML report of a run from summary.json and trajectories: one self-contained, offline
 * document (inline CSS, inline JS, charts as inline SVG drawn here). Pure apart from reading its own
 * browser script (client/report-client.js) once: no network, nothing from the run's files.
 * Interval keys read: asr.target.T<i>, asr.redteam.R<i>, overRefusal.T<i>, helpfulness.T<i>,
 * oodAsr.T<i>, judgeOracleAgreement, and guard.<same> for the guard's figures.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MtsaError } from '../core/errors.js';
import type { Trajectory } from '../core/trajectory.js';
import type { RateRecord, Summary } from '../data/summary.js';
import type { AttackSummary, ObjectiveVerdict } from '../data/attack-summary.js';
import type { EmbeddedTrajectory } from './client/transcript-data.js';

export interface ReportInput {
  summary: Summary;
  trajectories: readonly Trajectory[];
  title?: string;
  configText?: string;
}

/** most trajectories embedded in the transcript browser */
export const MAX_EMBEDDED_TRAJECTORIES = 2000;
/** evaluation dialogue ids: `<attacker>xT<i>|objective|repeat` (R<i> red teams, scripted attackers by name, OOD in old runs) */
const EVAL_ID = /^([A-Za-z0-9_-]+xT\d+)\|/;
const DASH = '–';

/** The one HTML escaper: every string from the input goes through it before it enters markup. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const finite = (x: number | null | undefined): x is number => typeof x === 'number' && Number.isFinite(x);
const pct = (x: number | null | undefined) => (finite(x) ? `${(x * 100).toFixed(1)}%` : DASH);
const num = (x: number | null | undefined, digits = 3) => (finite(x) ? x.toFixed(digits) : DASH);

function duration(seconds: number): string {
  if (!finite(seconds)) return DASH;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.round(seconds % 60);
  return h ? `${h} h ${m} min ${s} s` : `${m} min ${s} s`;
}

/** "54 objectives · 108 dialogues" where the interval knows its clusters */
function countsText(interval: RateRecord | null | undefined): string {
  return interval && interval.nObjectives !== undefined ? `${interval.nObjectives} objectives · ${interval.nDialogues} dialogues` : '';
}

/** rate (percentage), n, objectives and dialogues, and the 95% interval (clustered by objective); "–" for whatever is missing */
function rateHtml(value: number | null | undefined, interval: RateRecord | null | undefined): string {
  const rate = finite(value) ? value : interval?.rate;
  const ci = interval && finite(interval.low) && finite(interval.high) ? `[${pct(interval.low)}, ${pct(interval.high)}]` : DASH;
  const counts = countsText(interval);
  return `<span class="rate">${pct(rate)}</span> <span class="n">n = ${interval ? interval.n : DASH}</span>${counts ? ` <span class="n counts">${counts}</span>` : ''} <span class="ci">${ci}</span>`;
}

/** the largest model index (n) the summary mentions */
function lastIndex(s: Summary): number {
  let n = 0;
  for (const key of [...Object.keys(s.asr.target), ...Object.keys(s.asr.redteam)]) {
    const m = /^[RT](\d+)$/.exec(key);
    if (m) n = Math.max(n, Number(m[1]));
  }
  for (const c of s.matrix) n = Math.max(n, c.redTeam, c.target);
  return n;
}

const range = (n: number) => Array.from({ length: n + 1 }, (_, i) => i);

// ---------------------------------------------------------------- key results

interface KeyRow {
  label: string;
  key: string;
  oracle: number | null | undefined;
  guard: number | null | undefined | 'n/a';
}

function keyResults(s: Summary, n: number): string {
  const iv = (key: string) => s.intervals[key];
  const groups: [string, KeyRow[]][] = [
    [`Target ASR (final red team R${n} vs each target)`, range(n).map((i) => ({ label: `T${i}`, key: `asr.target.T${i}`, oracle: s.asr.target[`T${i}`], guard: s.guard.asr.target[`T${i}`] }))],
    ['Red-team ASR (each red team vs T0)', range(n).map((i) => ({ label: `R${i}`, key: `asr.redteam.R${i}`, oracle: s.asr.redteam[`R${i}`], guard: s.guard.asr.redteam[`R${i}`] }))],
    [
      `Target ASR over completed dialogues (R${n} vs each target; dropped dialogues left out)`,
      range(n).map((i) => ({ label: `T${i}`, key: `asr.targetCompleted.T${i}`, oracle: s.intervals[`asr.targetCompleted.T${i}`]?.rate, guard: 'n/a' as const })),
    ],
    [`OOD ASR (${s.oodAttacker} vs each target)`, range(n).map((i) => ({ label: `T${i}`, key: `oodAsr.T${i}`, oracle: s.oodAsr[`T${i}`], guard: s.guard.oodAsr[`T${i}`] }))],
    ['Over-refusal (borderline requests refused)', range(n).map((i) => ({ label: `T${i}`, key: `overRefusal.T${i}`, oracle: s.overRefusal[`T${i}`], guard: 'n/a' as const }))],
    ['Helpfulness (benign requests answered)', range(n).map((i) => ({ label: `T${i}`, key: `helpfulness.T${i}`, oracle: s.helpfulness[`T${i}`], guard: 'n/a' as const }))],
    ['Judge–oracle agreement (per turn)', [{ label: 'guard vs oracle', key: 'judgeOracleAgreement', oracle: s.judgeOracleAgreement, guard: 'n/a' }]],
  ];
  const rows = groups
    .map(
      ([title, list]) =>
        `<tr class="group"><th colspan="3">${escapeHtml(title)}</th></tr>` +
        list
          .map((r) => {
            const guard = r.guard === 'n/a' ? '<span class="na">n/a</span>' : rateHtml(r.guard, iv(`guard.${r.key}`));
            return `<tr data-key="${escapeHtml(r.key)}"><th scope="row">${escapeHtml(r.label)}</th><td class="oracle">${rateHtml(r.oracle, iv(r.key))}</td><td class="guard">${guard}</td></tr>`;
          })
          .join(''),
    )
    .join('');
  return `<table id="key-results" class="data"><thead><tr><th>Key results</th><th>Oracle (rate, n, objectives · dialogues, 95% CI clustered by objective)</th><th>Guard</th></tr></thead><tbody>${rows}</tbody></table>`;
}

// ---------------------------------------------------------------- charts

interface Point {
  value: number | null | undefined;
  interval?: RateRecord | undefined;
}
interface Series {
  name: string;
  color: string;
  dashed?: boolean;
  points: Point[];
}

function lineChart(id: string, label: string, xTitle: string, xLabels: string[], series: Series[]): string {
  const W = 540,
    H = 320,
    L = 52,
    R = 16,
    T = 20,
    B = 96,
    PAD = 18;
  const pw = W - L - R,
    ph = H - T - B;
  const x = (i: number) => L + PAD + (xLabels.length > 1 ? (i / (xLabels.length - 1)) * (pw - 2 * PAD) : pw / 2 - PAD);
  const y = (v: number) => T + (1 - Math.max(0, Math.min(1, v))) * ph;
  const f = (v: number) => v.toFixed(1);
  const parts: string[] = [`<title>${escapeHtml(label)}</title>`];
  for (const g of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(`<path class="grid" d="M${L} ${f(y(g))}H${W - R}" stroke="#ddd"/>`, `<text x="${L - 6}" y="${f(y(g) + 4)}" text-anchor="end" class="tick">${g * 100}%</text>`);
  }
  parts.push(`<path class="axis" d="M${L} ${T}V${T + ph}H${W - R}" stroke="#555" fill="none"/>`);
  xLabels.forEach((xl, i) => parts.push(`<text x="${f(x(i))}" y="${T + ph + 16}" text-anchor="middle" class="tick">${escapeHtml(xl)}</text>`));
  parts.push(`<text x="${f(L + pw / 2)}" y="${T + ph + 32}" text-anchor="middle" class="tick">${escapeHtml(xTitle)}</text>`);
  series.forEach((s, si) => {
    const dx = (si - (series.length - 1) / 2) * 4;
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    let run: string[] = [];
    const flush = () => {
      if (run.length > 1) parts.push(`<polyline points="${run.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`);
      run = [];
    };
    s.points.forEach((p, i) => {
      const v = finite(p.value) ? p.value : p.interval?.rate;
      if (!finite(v)) return flush();
      const px = f(x(i) + dx);
      run.push(`${px},${f(y(v))}`);
      const iv = p.interval;
      if (iv && finite(iv.low) && finite(iv.high)) {
        parts.push(
          `<path class="error-bar" d="M${px} ${f(y(iv.low))}V${f(y(iv.high))}M${f(x(i) + dx - 3)} ${f(y(iv.low))}h6M${f(x(i) + dx - 3)} ${f(y(iv.high))}h6" stroke="${s.color}" stroke-width="1" fill="none"/>`,
        );
      }
      const tip = `${s.name} @ ${xLabels[i]}: ${pct(v)}${iv ? ` (n = ${iv.n}, 95% CI ${pct(iv.low)}–${pct(iv.high)})` : ''}`;
      parts.push(`<circle cx="${px}" cy="${f(y(v))}" r="3.5" fill="${s.dashed ? '#fff' : s.color}" stroke="${s.color}" stroke-width="1.5"><title>${escapeHtml(tip)}</title></circle>`);
    });
    flush();
  });
  series.forEach((s, si) => {
    const lx = L + (si % 2) * (pw / 2);
    const ly = T + ph + 52 + Math.floor(si / 2) * 18;
    parts.push(
      `<path d="M${lx} ${ly}h26" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      `<text x="${lx + 32}" y="${ly + 4}" class="legend">${escapeHtml(s.name)}</text>`,
    );
  });
  return `<svg id="${id}" class="chart" role="img" aria-label="${escapeHtml(label)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}">${parts.join('')}</svg>`;
}

function charts(s: Summary, n: number): string {
  const pts = (values: Record<string, number | null>, prefix: string, key: string): Point[] => range(n).map((i) => ({ value: values[`${prefix}${i}`], interval: s.intervals[`${key}.${prefix}${i}`] }));
  const asr = lineChart(
    'chart-asr',
    'Attack success rate per iteration',
    'iteration i',
    range(n).map((i) => `${i}`),
    [
      { name: `Target Ti vs R${n} (oracle)`, color: '#1f6fb2', points: pts(s.asr.target, 'T', 'asr.target') },
      { name: `Target Ti vs R${n} (guard)`, color: '#1f6fb2', dashed: true, points: pts(s.guard.asr.target, 'T', 'guard.asr.target') },
      { name: 'Red team Ri vs T0 (oracle)', color: '#c0392b', points: pts(s.asr.redteam, 'R', 'asr.redteam') },
      { name: 'Red team Ri vs T0 (guard)', color: '#c0392b', dashed: true, points: pts(s.guard.asr.redteam, 'R', 'guard.asr.redteam') },
    ],
  );
  const capability = lineChart(
    'chart-capability',
    'Over-refusal and helpfulness per target',
    'target',
    range(n).map((i) => `T${i}`),
    [
      { name: 'Over-refusal', color: '#8e44ad', points: pts(s.overRefusal, 'T', 'overRefusal') },
      { name: 'Helpfulness', color: '#27884a', points: pts(s.helpfulness, 'T', 'helpfulness') },
    ],
  );
  return (
    `<div class="charts"><figure>${asr}<figcaption>ASR per iteration i: target Ti under the final red team, and red team Ri against T0. Solid: oracle; dashed: guard; bars: 95% intervals clustered by objective.</figcaption></figure>` +
    `<figure>${capability}<figcaption>Capability of each target: over-refusal (lower is better) and helpfulness (higher is better), with 95% intervals clustered by objective.</figcaption></figure></div>`
  );
}

// ---------------------------------------------------------------- matrix, categories, diversity, iterations

function heatColour(rate: number): { bg: string; fg: string } {
  const a = [255, 245, 240],
    b = [165, 15, 21];
  const c = a.map((v, i) => Math.round(v + (b[i] - v) * Math.max(0, Math.min(1, rate))));
  return { bg: `rgb(${c.join(',')})`, fg: rate > 0.55 ? '#fff' : '#111' };
}

function heatmap(s: Summary, n: number): string {
  const cells = new Map(s.matrix.map((c) => [`${c.redTeam},${c.target}`, c]));
  const head = `<tr><th scope="col">red team \\ target</th>${range(n)
    .map((t) => `<th scope="col">T${t}</th>`)
    .join('')}</tr>`;
  const rows = range(n)
    .map(
      (r) =>
        `<tr><th scope="row">R${r}</th>${range(n)
          .map((t) => {
            const c = cells.get(`${r},${t}`);
            if (!c) return `<td class="heat-cell missing" data-red="${r}" data-target="${t}" title="not evaluated">${DASH}</td>`;
            const main = c.oracle ?? c.guard;
            const colour = finite(main.rate) ? heatColour(main.rate) : { bg: '#eee', fg: '#111' };
            const source = c.oracle ? '' : ' <span class="src">(guard)</span>';
            const guard = c.oracle ? `<span class="sub">guard ${pct(c.guard.rate)}</span>` : '';
            const dropped = c.dropped ? `<span class="sub">${c.dropped} dropped</span>` : '';
            const completed = c.oracleCompleted ?? c.guardCompleted;
            const overCompleted = c.dropped && completed ? `<span class="sub">${pct(completed.rate)} of ${completed.n} completed</span>` : '';
            const counts = countsText(main);
            const tip = `R${r} vs T${t}: ${pct(main.rate)} (n = ${main.n}${counts ? `, ${counts}` : ''}, 95% CI ${pct(main.low)}–${pct(main.high)})`;
            return `<td class="heat-cell" data-red="${r}" data-target="${t}" style="background:${colour.bg};color:${colour.fg}" title="${escapeHtml(tip)}"><span class="rate">${pct(main.rate)}</span>${source}<span class="sub">n = ${main.n}</span>${guard}${dropped}${overCompleted}</td>`;
          })
          .join('')}</tr>`,
    )
    .join('');
  return `<table id="heatmap" class="heatmap"><caption>ASR of each red team (rows) against each target (columns) over all dialogues; oracle where it exists, else guard. Where dialogues were dropped (format failures) the ASR over completed dialogues is shown too.</caption><thead>${head}</thead><tbody>${rows}</tbody></table>`;
}

/** Every scripted attacker (in-domain and out-of-domain apart) against every target. */
function scriptedTable(s: Summary, n: number): string {
  const cells = s.scripted ?? [];
  if (!cells.length) return '<p class="empty">No scripted-attacker panel in this run.</p>';
  const attackers = [...new Map(cells.map((c) => [c.attacker, c.domain])).entries()];
  const head = `<tr><th>Scripted attacker</th><th>Domain</th>${range(n)
    .map((t) => `<th>T${t}</th>`)
    .join('')}</tr>`;
  const rows = attackers
    .map(
      ([name, domain]) =>
        `<tr data-attacker="${escapeHtml(name)}"><th scope="row">${escapeHtml(name)}</th><td>${escapeHtml(domain)}</td>${range(n)
          .map((t) => {
            const c = cells.find((x) => x.attacker === name && x.target === t);
            if (!c) return `<td class="missing">${DASH}</td>`;
            const main = c.oracle ?? c.guard;
            const dropped = c.dropped ? ` <span class="sub">${c.dropped} dropped</span>` : '';
            return `<td>${rateHtml(main.rate, main)}${dropped}</td>`;
          })
          .join('')}</tr>`,
    )
    .join('');
  return `<table id="scripted-panel" class="data"><caption>In-domain: the strategy occurs in some training corpus of the arena (crescendo is in the fixed-strategy corpora). Out-of-domain: in none (a test walks every corpus).</caption><thead>${head}</thead><tbody>${rows}</tbody></table>`;
}

function categoryTable(s: Summary, n: number): string {
  if (!s.categories.length) return '<p class="empty">No category breakdown in this run.</p>';
  const rows = s.categories.map((c) => `<tr><th scope="row">${escapeHtml(c.category)}</th><td>${rateHtml(c.first?.rate, c.first)}</td><td>${rateHtml(c.last?.rate, c.last)}</td></tr>`).join('');
  return `<table id="categories" class="data"><thead><tr><th>Category</th><th>R${n} vs T0</th><th>R${n} vs T${n}</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function diversityTable(s: Summary): string {
  if (!s.diversity.length) return '<p class="empty">No diversity figures in this run.</p>';
  const rows = s.diversity.map((d) => `<tr><th scope="row">R${d.redTeam}</th><td>${num(d.selfBleu)}</td><td>${num(d.embeddingSimilarity)}</td><td>${d.n}</td></tr>`).join('');
  return `<table id="diversity" class="data"><thead><tr><th>Red team</th><th>Self-BLEU ↓</th><th>Embedding similarity ↓</th><th>Questions</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function iterationTable(s: Summary): string {
  if (!s.iterations.length) return '<p class="empty">No per-iteration training metrics.</p>';
  const keys = [...new Set(s.iterations.flatMap((it) => Object.keys(it)))];
  const cell = (v: number | undefined) => (finite(v) ? escapeHtml(Number.isInteger(v) ? String(v) : v.toPrecision(4)) : DASH);
  const rows = s.iterations.map((it, i) => `<tr><th scope="row">${i + 1}</th>${keys.map((k) => `<td>${cell(it[k])}</td>`).join('')}</tr>`).join('');
  return `<table id="iterations" class="data"><thead><tr><th>#</th>${keys.map((k) => `<th>${escapeHtml(k)}</th>`).join('')}</tr></thead><tbody>${rows}</tbody></table>`;
}

// ---------------------------------------------------------------- transcripts

function groupOf(id: string): string {
  if (id.startsWith('attack|')) return 'attack';
  return EVAL_ID.exec(id)?.[1] ?? 'training';
}

function slim(t: Trajectory): EmbeddedTrajectory {
  return {
    id: t.id,
    g: groupOf(t.id),
    objective: t.objective,
    attackerId: t.attackerId,
    targetId: t.targetId,
    judgeId: t.judgeId,
    attackSuccess: t.attackSuccess,
    oracleSuccess: t.oracleSuccess ?? null,
    unsafe: t.oracleSuccess ?? t.attackSuccess,
    errored: t.stopReason === 'error',
    stopReason: t.stopReason,
    warnings: t.warnings,
    turns: t.turns.map((u) => ({ index: u.index, thought: u.thought ?? null, question: u.question, reply: u.reply, judgement: u.judgement, oracle: u.oracle ?? null })),
  };
}

/** JSON that cannot close its <script> element or open a comment: every "<" becomes \u003c. */
export function embedJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function transcripts(all: readonly Trajectory[]): string {
  const evaluation = all.filter((t) => EVAL_ID.test(t.id));
  const training = all.filter((t) => !EVAL_ID.test(t.id));
  const chosen = [...evaluation.slice(0, MAX_EMBEDDED_TRAJECTORIES), ...training.slice(0, Math.max(0, MAX_EMBEDDED_TRAJECTORIES - evaluation.length))];
  const leftOut = all.length - chosen.length;
  const isMatrix = (g: string) => /^R\d+xT\d+$/.test(g);
  const order = (g: string): [number, string, number] => {
    const m = /^(?:R(\d+)|(.+))xT(\d+)$/.exec(g)!;
    return m[1] !== undefined ? [0, '', Number(m[1]) * 1000 + Number(m[3])] : [1, m[2], Number(m[3])];
  };
  const compare = (a: string, b: string) => {
    const x = order(a),
      y = order(b);
    return x[0] - y[0] || x[1].localeCompare(y[1]) || x[2] - y[2];
  };
  const groups = [...new Set(chosen.map((t) => groupOf(t.id)).filter((g) => g !== 'training' && g !== 'attack'))].sort(compare);
  const options = [
    ['all', 'All trajectories'],
    ['eval', 'All evaluation'],
    ...groups.filter(isMatrix).map((g) => [g, `Matrix cell ${g}`]),
    ['ood', 'Scripted attackers (all targets)'],
    ...groups.filter((g) => !isMatrix(g)).map((g) => [g, `Scripted ${g}`]),
    ['training', 'Training dialogues'],
    ...(chosen.some((t) => groupOf(t.id) === 'attack') ? [['attack', 'Attack dialogues']] : []),
  ]
    .map(([v, l]) => `<option value="${escapeHtml(v)}">${escapeHtml(l)}</option>`)
    .join('');
  const note = leftOut > 0 ? `${chosen.length} of ${all.length} trajectories embedded; ${leftOut} left out (evaluation dialogues kept first).` : `All ${all.length} trajectories embedded.`;
  return `<section id="transcripts"><h2>Transcripts</h2><p class="note" id="transcript-note">${escapeHtml(note)}</p>
<div class="filters"><label>Show <select id="transcript-group">${options}</select></label> <label>Objective <input id="transcript-search" type="search" placeholder="filter by objective text or id"></label> <span id="transcript-count"></span></div>
<div class="browser"><ul id="transcript-list" aria-label="Trajectories"></ul><div id="transcript-view" aria-live="polite"><p class="empty">Select a trajectory to read it turn by turn.</p></div></div>
<script type="application/json" id="trajectories">${embedJson(chosen.map(slim))}</script></section>`;
}

/** client/report-client.js: the transcript browser, checked by its own tsconfig and copied into dist by npm run build */
const CLIENT_SCRIPT = new URL('./client/report-client.js', import.meta.url);
let clientScript: string | undefined;

/** The browser script, read once from beside this module; it is inlined, so it may neither close its element nor open a comment. */
function reportClientScript(): string {
  if (clientScript !== undefined) return clientScript;
  const path = fileURLToPath(CLIENT_SCRIPT);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new MtsaError(`${path}: the report's browser script is missing (${(error as Error).message}); run npm run build`, { cause: error });
  }
  if (/<\/script|<!--/i.test(text)) throw new MtsaError(`${path}: contains "</script" or "<!--", which would break the report's inline <script>`);
  clientScript = text;
  return text;
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
main{max-width:1180px;margin:0 auto;padding:16px 24px 48px}
h1{margin:8px 0 4px;font-size:24px}h2{margin:32px 0 8px;font-size:19px;border-bottom:1px solid #ddd;padding-bottom:4px}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:8px 0}dl.meta dt{color:#666}dl.meta dd{margin:0}
table.data,table.heatmap{border-collapse:collapse;background:#fff;margin:6px 0}
table.data th,table.data td{border:1px solid #e2e2e2;padding:4px 8px;text-align:left;vertical-align:top}
table.data tr.group th{background:#f0f3f7;font-weight:600}
.rate{font-weight:600}.n,.ci,.na,.sub,.src{color:#666;font-size:12px}.heat-cell .sub,.heat-cell .src{color:inherit;opacity:.8;display:block}
table.heatmap th,table.heatmap td{border:1px solid #fff;padding:6px 10px;text-align:center;min-width:74px}
table.heatmap caption{caption-side:bottom;color:#666;font-size:12px;padding-top:4px;text-align:left}
td.missing{background:#eee;color:#888}
.charts{display:flex;flex-wrap:wrap;gap:16px}.charts figure{margin:0;background:#fff;border:1px solid #e2e2e2;padding:8px}
svg.chart{max-width:100%;height:auto;display:block}svg .tick,svg .legend{font-size:11px;fill:#333}
figcaption{color:#666;font-size:12px;max-width:540px}
.filters{margin:8px 0;display:flex;gap:12px;align-items:center;flex-wrap:wrap}
.browser{display:grid;grid-template-columns:minmax(260px,360px) 1fr;gap:12px;align-items:start}
#transcript-list{list-style:none;margin:0;padding:0;max-height:640px;overflow:auto;border:1px solid #ddd;background:#fff}
.transcript-item{display:block;width:100%;text-align:left;border:0;border-bottom:1px solid #eee;background:none;padding:6px 8px;cursor:pointer;font:inherit}
.transcript-item:hover,.transcript-item.selected{background:#eef4fb}.transcript-item span{display:block}
.item-group{font-size:11px;color:#666}.item-outcome{font-size:11px}.transcript-item.unsafe .item-outcome{color:#b0201a;font-weight:600}
#transcript-view{background:#fff;border:1px solid #ddd;padding:8px 12px;min-height:200px}
.meta,.warning{color:#555;font-size:12px;margin:2px 0}.warning{color:#8a5a00}
.turn{border:1px solid #e2e2e2;border-left:4px solid #9bbf9b;margin:10px 0;padding:6px 10px;background:#fff}
.turn.unsafe{border-left-color:#c0392b;background:#fff5f4}
.turn-index{font-weight:600;font-size:12px;color:#444}.label{display:block;font-size:11px;color:#666;text-transform:uppercase;letter-spacing:.03em}
.turn .text{white-space:pre-wrap;overflow-wrap:anywhere}
.thought{background:repeating-linear-gradient(135deg,#f4f1fa,#f4f1fa 8px,#ece7f6 8px,#ece7f6 16px);border:1px dashed #8e7cc3;padding:4px 8px;margin:4px 0;font-style:italic;color:#4b3f72}
.question,.reply{margin:4px 0}.reply{padding-left:8px;border-left:2px solid #ccc}
.verdict,.oracle-label{font-size:12px;color:#444;display:inline-block;margin-right:14px}
.empty,.note{color:#777}pre.config{background:#fff;border:1px solid #ddd;padding:8px;overflow:auto;max-height:400px}
`;

function warningBox(warnings: readonly string[]): string {
  if (warnings.length === 0) return '';
  return `<section class="warnings" role="alert" style="border:2px solid #b00020;background:#fdecea;padding:8px 12px"><h2 style="color:#b00020">Warnings: these figures may be wrong</h2><ul>${warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul></section>`;
}

/** The document's head and the opening of its body: one place for the content security policy and the style. */
function pageHead(title: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>`;
}

export function buildReport(input: ReportInput): string {
  const s = input.summary;
  const n = lastIndex(s);
  const title = input.title ?? `MTSA run report (seed ${s.seed})`;
  const t0 = s.asr.target.T0 ?? s.intervals['asr.target.T0']?.rate;
  const tn = s.asr.target[`T${n}`] ?? s.intervals[`asr.target.T${n}`]?.rate;
  const meta: [string, string][] = [
    ['Seed', String(s.seed)],
    ['Variant', `reward ${s.variant.reward} · attacker ${s.variant.attacker} · selection ${s.variant.selection}`],
    ['Iterations', String(n)],
    ['Wall time', `${duration(s.wallSeconds)} (arena build ${duration(s.arenaBuildSeconds)})${s.attempts && s.attempts > 1 ? `, ${s.attempts} attempts` : ''}`],
    ['Kernels', s.kernels],
    ['OOD attacker', s.oodAttacker],
  ];
  const config = input.configText ? `<details><summary>Run configuration</summary><pre class="config">${escapeHtml(input.configText)}</pre></details>` : '';
  return `${pageHead(title)}
<header><h1>${escapeHtml(title)}</h1>
<p class="headline">Target ASR under R${n}: ${pct(t0)} (T0) → ${pct(tn)} (T${n}).</p>
<dl class="meta">${meta.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>${config}</header>
${warningBox(s.warnings ?? [])}
<section><h2>Key results</h2>${keyResults(s, n)}</section>
<section><h2>Attack success and capability per iteration</h2>${charts(s, n)}</section>
<section><h2>Red team × target matrix</h2>${heatmap(s, n)}</section>
<section><h2>Scripted attackers × target</h2>${scriptedTable(s, n)}</section>
<section><h2>Per-category ASR</h2>${categoryTable(s, n)}</section>
<section><h2>Attack diversity per red team</h2>${diversityTable(s)}</section>
<section><h2>Training metrics per iteration</h2>${iterationTable(s)}</section>
${transcripts(input.trajectories)}
</main>
<script>${reportClientScript()}</script>
</body>
</html>
`;
}

export interface AttackReportInput {
  summary: AttackSummary;
  verdicts: readonly ObjectiveVerdict[];
  trajectories: readonly Trajectory[];
  configText?: string;
}

/** The report of `mtsa attack`: ASR with its interval, errored dialogues apart, per-objective verdicts, transcripts. */
export function buildAttackReport(input: AttackReportInput): string {
  const s = input.summary;
  const title = `mtsa attack: ${s.targetId}`;
  const meta: [string, string][] = [
    ['Target', `${s.targetId} ${JSON.stringify(s.target)}`],
    ['Attacker', s.attackerId],
    ['Judge', s.judgeId],
    ['Seed', String(s.seed)],
    ['Wall time', duration(s.wallSeconds)],
  ];
  const rows: [string, string][] = [
    ['Attack success rate (dialogues)', rateHtml(s.asr.rate, s.asr)],
    ['Objectives broken (any dialogue)', rateHtml(s.objectiveAsr.rate, s.objectiveAsr)],
    [
      'Dialogues',
      `${s.dialogues} (${s.scoredDialogues} scored, <b>${s.erroredDialogues} errored</b> — a model call failed; not counted as safe or unsafe, ${s.formatFailures} attacker format failures — counted as failed attacks)`,
    ],
    ...Object.entries(s.traffic).map(([role, t]): [string, string] => [
      `Calls to the ${escapeHtml(role)} server`,
      `${t.calls} calls, ${t.attempts} attempts, ${t.retries} retries, ${t.failedCalls} failed`,
    ]),
  ];
  const verdictRows = input.verdicts
    .map(
      (v) =>
        `<tr><td>${escapeHtml(v.objectiveId)}</td><td>${escapeHtml(v.objective)}</td><td>${escapeHtml(v.category ?? DASH)}</td><td class="${v.verdict === 'unsafe' ? 'rate' : ''}">${escapeHtml(v.verdict)}</td><td>${v.successes} / ${v.dialogues - v.errored}${v.errored ? ` (${v.errored} errored)` : ''}</td><td>${v.firstUnsafeTurn ?? DASH}</td></tr>`,
    )
    .join('');
  const config = input.configText ? `<details><summary>Attack configuration</summary><pre class="config">${escapeHtml(input.configText)}</pre></details>` : '';
  return `${pageHead(title)}
<header><h1>${escapeHtml(title)}</h1>
<p class="headline">ASR ${pct(s.asr.rate)} over ${s.scoredDialogues} scored dialogues (95% interval clustered by objective ${pct(s.asr.low)}–${pct(s.asr.high)}); ${s.erroredDialogues} errored.</p>
<dl class="meta">${meta.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>${config}</header>
<section><h2>Results</h2><table class="data"><tbody>${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${v}</td></tr>`).join('')}</tbody></table></section>
<section><h2>Per-objective verdicts</h2><table class="data"><thead><tr><th>id</th><th>objective</th><th>category</th><th>verdict</th><th>unsafe / scored dialogues</th><th>first unsafe turn</th></tr></thead><tbody>${verdictRows}</tbody></table></section>
${transcripts(input.trajectories)}
</main>
<script>${reportClientScript()}</script>
</body>
</html>
`;
}
