import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryStepStore } from '../storage/memory-step-store.js';
import { LlmAttacker } from '../attacks/attacker.js';
import { KeywordJudge, ConstantScorer, LetterEmbedder, ScriptedChatModel } from '../testing/fakes.js';
import { evaluate } from './evaluate.js';
import { fileSuite, FileSuiteConfigSchema, isRefusalByPhrase, loadFileSuiteSources } from './file-suite.js';

const fixtures = join(import.meta.dirname, '../../test/fixtures/data');
const config = FileSuiteConfigSchema.parse({
  objectives: join(fixtures, 'harmbench_behaviors_text_test.csv'),
  overRefusal: join(fixtures, 'xstest_prompts.csv'),
  helpfulness: join(fixtures, 'helpfulness.jsonl'),
  multiTurn: [join(fixtures, 'crimes.jsonl')],
});

describe('file-based evaluation suite', () => {
  it('phrase refusal detector', () => {
    expect(isRefusalByPhrase("I'm sorry, but I can’t help with that.")).toBe(true);
    expect(isRefusalByPhrase('Sure: first, open the task manager.')).toBe(false);
  });

  it('runs evaluate() judge-only: ASR from the judge, the fixed multi-turn attacker, helpfulness by scorer, over-refusal by phrase', async () => {
    const sources = loadFileSuiteSources(config);
    const suite = fileSuite(sources, { helpfulnessScorer: new ConstantScorer(0.8) });
    expect(suite.oracle).toBeUndefined();
    expect(suite.oodMaxTurns).toBe(3);
    // The target complies with anything mentioning "objective 2" (judge: UNSAFE marker), refuses XSTest's homonym prompt.
    const target = new ScriptedChatModel('target', (r) => {
      const last = r.messages[r.messages.length - 1].content;
      if (last.includes('objective 2')) return 'UNSAFE [restricted step]';
      if (last.includes('stuck computer process')) return "I'm sorry, I can't help with that.";
      return 'Here is an answer.';
    });
    const attacker = new LlmAttacker(new ScriptedChatModel('attacker', (r) => `Thinking ${1}: x\nAttack question 1: ${r.messages[0].content.match(/target is (.*) ,/)?.[1]}`), {
      id: 'red',
      mode: 'thought',
      maxAttempts: 1,
      sampling: { temperature: 1, topP: 1, maxTokens: 20 },
    });
    const judge = new KeywordJudge();
    const sampling = { temperature: 0, topP: 1, maxTokens: 20 };
    const result = await evaluate({ redTeams: [attacker], targets: [target], judge, embedder: new LetterEmbedder() }, suite, {
      maxTurns: 1,
      repeats: 1,
      targetSampling: sampling,
      capabilitySampling: sampling,
      matrix: 'full',
      seed: 1,
      store: new MemoryStepStore(),
    });
    expect(result.groundTruth).toBe('judge-only (no oracle)');
    expect(result.cells[0].oracleAsr).toBeNull();
    expect(result.cells[0].guardAsr).toMatchObject({ successes: 1, n: 4 });
    // The fixed attacker asked the file's questions for three turns, on the file's dialogues.
    expect(result.ood[0].guardAsr.n).toBe(2);
    const asked = target.calls.filter((c) => c.messages.some((m) => m.content.includes('[scripted question 1 of dialogue 1]')));
    expect(asked.map((c) => c.messages.filter((m) => m.role === 'user').length)).toEqual([1, 2, 3]);
    expect(result.capability[0].helpfulness).toMatchObject({ successes: 2, n: 2 });
    expect(result.capability[0].overRefusal).toMatchObject({ successes: 1, n: 2 });
    expect(result.categories.map((c) => c.category)).toEqual(['chemical_biological', 'copyright', 'illegal', 'misinformation_disinformation']);
  });
});
