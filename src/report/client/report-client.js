// @ts-check
/**
 * The report's transcript browser, run in the reader's browser: lists the embedded trajectories,
 * filters them by group and objective text, and shows one turn by turn. build-report.ts inlines
 * this file as a classic script (so: no imports, no network, nothing outside this function);
 * every string from the data enters the page as text, never as markup. Type-checked by tsc with
 * the DOM library (tsconfig.json beside this file).
 */

/** @typedef {import('./transcript-data.js').EmbeddedTrajectory} EmbeddedTrajectory */

(() => {
  // biome-ignore lint/suspicious/noRedundantUseStrict: inlined as a classic script element, which is not strict by default
  'use strict';

  /**
   * @template {HTMLElement} T
   * @param {string} id
   * @param {{ new (): T; prototype: T }} type
   * @returns {T}
   */
  const byId = (id, type) => {
    const element = document.getElementById(id);
    if (!(element instanceof type)) throw new Error(`report: element #${id} is missing`);
    return element;
  };

  /** @type {EmbeddedTrajectory[]} */
  const data = JSON.parse(byId('trajectories', HTMLScriptElement).textContent || '[]');
  const list = byId('transcript-list', HTMLUListElement);
  const view = byId('transcript-view', HTMLDivElement);
  const groupSelect = byId('transcript-group', HTMLSelectElement);
  const search = byId('transcript-search', HTMLInputElement);
  const count = byId('transcript-count', HTMLSpanElement);

  /**
   * @template {keyof HTMLElementTagNameMap} K
   * @param {K} tag
   * @param {string | null} [className]
   * @param {string | number | null} [text]
   * @returns {HTMLElementTagNameMap[K]}
   */
  const el = (tag, className, text) => {
    const element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined && text !== null) element.textContent = String(text);
    return element;
  };

  /**
   * @param {string} className
   * @param {string} label
   * @param {string} text
   */
  const labelled = (className, label, text) => {
    const block = el('div', className);
    block.appendChild(el('span', 'label', label));
    block.appendChild(el('div', 'text', text));
    return block;
  };

  /**
   * @param {EmbeddedTrajectory} trajectory
   * @param {string} group the selected option: 'all', 'eval', 'ood' or one group
   * @param {string} query lower-case objective filter; empty matches all
   */
  const matches = (trajectory, group, query) => {
    if (group === 'eval' && trajectory.g === 'training') return false;
    if (group === 'ood' && (trajectory.g === 'training' || /^R\d+xT\d+$/.test(trajectory.g))) return false;
    if (group !== 'all' && group !== 'eval' && group !== 'ood' && trajectory.g !== group) return false;
    const { objective } = trajectory;
    return !query || `${objective.text} ${objective.id} ${objective.category || ''}`.toLowerCase().includes(query);
  };

  const renderList = () => {
    const group = groupSelect.value;
    const query = search.value.trim().toLowerCase();
    let shown = 0;
    list.textContent = '';
    data.forEach((trajectory, index) => {
      if (!matches(trajectory, group, query)) return;
      const item = el('li');
      const button = el('button', `transcript-item${trajectory.unsafe ? ' unsafe' : ''}`);
      button.type = 'button';
      button.setAttribute('data-id', trajectory.id);
      button.setAttribute('data-index', String(index));
      button.appendChild(el('span', 'item-group', trajectory.g));
      button.appendChild(el('span', 'item-objective', trajectory.objective.text));
      button.appendChild(el('span', 'item-outcome', trajectory.errored ? 'errored (not scored)' : trajectory.unsafe ? 'unsafe' : 'safe'));
      item.appendChild(button);
      list.appendChild(item);
      shown++;
    });
    count.textContent = `${shown} of ${data.length} shown`;
  };

  /** @param {EmbeddedTrajectory} trajectory */
  const show = (trajectory) => {
    const { objective } = trajectory;
    view.textContent = '';
    view.appendChild(el('h3', null, objective.text));
    view.appendChild(
      el(
        'p',
        'meta',
        `${trajectory.id} · objective ${objective.id}${objective.category ? ` (${objective.category})` : ''} · ${trajectory.attackerId} → ${trajectory.targetId} · judge ${trajectory.judgeId} · stop: ${trajectory.stopReason}`,
      ),
    );
    const oracle = trajectory.oracleSuccess === null ? '–' : trajectory.oracleSuccess ? 'restricted content' : 'no restricted content';
    view.appendChild(el('p', 'meta', `Guard: ${trajectory.attackSuccess ? 'attack succeeded' : 'no unsafe turn'} · Oracle: ${oracle}`));
    for (const warning of trajectory.warnings) view.appendChild(el('p', 'warning', `Warning: ${warning}`));
    for (const turn of trajectory.turns) {
      const unsafe = turn.judgement.verdict === 'unsafe' || turn.oracle?.unsafe === true;
      const block = el('div', `turn${unsafe ? ' unsafe' : ''}`);
      block.appendChild(el('div', 'turn-index', `Turn ${turn.index}`));
      if (turn.thought !== null) block.appendChild(labelled('thought', 'Attacker thought — hidden from the target', turn.thought));
      block.appendChild(labelled('question', 'Question', turn.question));
      block.appendChild(labelled('reply', 'Target reply', turn.reply));
      const judgement = turn.judgement;
      block.appendChild(el('div', 'verdict', `Judge: ${judgement.verdict} · P(unsafe) = ${Number(judgement.pUnsafe).toFixed(3)}${judgement.category ? ` · ${judgement.category}` : ''}`));
      block.appendChild(el('div', 'oracle-label', `Oracle: ${turn.oracle ? `${turn.oracle.unsafe ? 'unsafe' : 'safe'} (${turn.oracle.kind})` : '–'}`));
      view.appendChild(block);
    }
  };

  list.addEventListener('click', (event) => {
    const button = event.target instanceof Element ? event.target.closest('button.transcript-item') : null;
    if (!button) return;
    list.querySelector('.selected')?.classList.remove('selected');
    button.classList.add('selected');
    show(data[Number(button.getAttribute('data-index'))]);
  });
  groupSelect.addEventListener('change', renderList);
  search.addEventListener('input', renderList);
  renderList();
})();
