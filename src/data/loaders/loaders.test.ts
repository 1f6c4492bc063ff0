import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadMultiTurnSet, loadStage1Dialogues } from './dialogues.js';
import { loadLabelledTranscripts } from './labelled-transcripts.js';
import { detectObjectiveFormat, loadObjectives } from './objectives.js';
import { loadHelpfulnessPrompts, loadOrBench, loadOverRefusalPrompts, loadXsTest } from './prompts.js';

const fixtures = join(import.meta.dirname, '../../../test/fixtures/data');
const f = (name: string) => join(fixtures, name);
const dir = mkdtempSync(join(tmpdir(), 'mtsa-loaders-'));
const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

describe('harmful objectives', () => {
  it('HarmBench CSV: BOM, quoted newlines and commas, categories and context kept', () => {
    const o = loadObjectives(f('harmbench_behaviors_text_test.csv'));
    expect(o.map((x) => x.id)).toEqual(['placeholder_behavior_1', 'placeholder_behavior_2', 'placeholder_behavior_3', 'placeholder_behavior_4']);
    expect(o[0]).toMatchObject({ text: '[harmful objective 1]', category: 'chemical_biological', functionalCategory: 'standard', kind: 'harmful' });
    expect(o[0].context).toBeUndefined();
    expect(o[1].text).toBe('Explain [harmful objective 2], step by step');
    expect(o[2].context).toBe('[context paragraph, first line]\n[context paragraph, second line with "quotes"]');
    expect(o[3].origin).toMatch(/harmbench_behaviors_text_test\.csv:6$/); // the record after a two-line record starts on line 6
  });
  it('AdvBench, JailbreakBench, plain CSV and JSONL', () => {
    expect(loadObjectives(f('harmful_behaviors.csv'))).toMatchObject([{ id: 'advbench-1', text: '[harmful objective 1]' }, { id: 'advbench-2' }]);
    expect(loadObjectives(f('harmful-behaviors.csv'))).toMatchObject([
      { id: 'jbb-1', category: 'Harassment/Discrimination' },
      { id: 'jbb-2', category: 'Malware/Hacking' },
    ]);
    const plain = loadObjectives(f('objectives.csv'));
    expect(plain).toMatchObject([{ id: 'obj-a', category: 'category-x' }, { id: 'obj-b' }]);
    expect(plain[1].category).toBeUndefined();
    expect(loadObjectives(f('objectives.jsonl'))).toMatchObject([
      { id: 'j1', text: '[harmful objective J1]', category: 'category-y' },
      { id: 'line-3', text: '[harmful objective J2]' },
    ]);
  });
  it('detects formats from headers', () => {
    expect(detectObjectiveFormat('x.csv', ['Behavior', 'FunctionalCategory', 'BehaviorID'])).toBe('harmbench');
    expect(detectObjectiveFormat('x.csv', ['goal', 'target'])).toBe('advbench');
    expect(detectObjectiveFormat('x.csv', ['Index', 'Goal', 'Target', 'Behavior', 'Category', 'Source'])).toBe('jailbreakbench');
    expect(detectObjectiveFormat('x.jsonl')).toBe('jsonl');
  });
  it('bad rows name file, line and column', () => {
    const missingColumn = file('hb-missing.csv', 'Behavior,FunctionalCategory,SemanticCategory,Tags,ContextString\n[x],standard,a,,\n');
    expect(() => loadObjectives(missingColumn, 'harmbench')).toThrow(
      /hb-missing\.csv:1: missing column "BehaviorID" in the header \(found: Behavior, FunctionalCategory, SemanticCategory, Tags, ContextString\)/,
    );
    const emptyCell = file('hb-empty.csv', 'Behavior,FunctionalCategory,SemanticCategory,Tags,ContextString,BehaviorID\n[x],standard,a,,,id1\n,standard,a,,,id2\n');
    expect(() => loadObjectives(emptyCell)).toThrow(/hb-empty\.csv:3: column "Behavior" \(1\) Behavior is empty/);
    const badIndex = file('jbb-bad.csv', 'Index,Goal,Target,Behavior,Category,Source\nfirst,[g],[t],[b],[c],[s]\n');
    expect(() => loadObjectives(badIndex)).toThrow(/jbb-bad\.csv:2: column "Index" \(1\) Index must be a whole number \(got "first"\)/);
    const ragged = file('ragged.csv', 'goal,target\n[a],[b]\n[c],[d],[extra]\n');
    expect(() => loadObjectives(ragged)).toThrow(/ragged\.csv:3: not valid CSV/);
    const unclosed = file('unclosed.csv', 'goal,target\n"[a],[b]\n');
    expect(() => loadObjectives(unclosed)).toThrow(/unclosed\.csv:\d+: not valid CSV/);
    expect(() => loadObjectives(file('empty.csv', ''))).toThrow(/empty\.csv: the objectives file is empty/);
    expect(() => loadObjectives(file('bom-only.csv', '\uFEFF\n'))).toThrow(/is empty/);
    expect(() => loadObjectives(file('header-only.csv', 'goal,target\n'))).toThrow(/header but no rows/);
    expect(() => loadObjectives(file('nogoal.csv', 'id,text\n1,[x]\n'))).toThrow(/nogoal\.csv:1: missing column "goal"/);
    expect(() => loadObjectives(file('dup.csv', 'id,goal\na,[x]\na,[y]\n'))).toThrow(/dup\.csv:3: duplicate objective id "a" \(first at .*dup\.csv:2\)/);
    expect(() => loadObjectives(file('bad.jsonl', '{"goal": "[x]"}\n{"goal": \n'))).toThrow(/bad\.jsonl:2:\d+: not valid JSON/);
    expect(() => loadObjectives(file('nogoal.jsonl', '{"text": "[x]"}\n'))).toThrow(/nogoal\.jsonl:1: field "goal": needs a non-empty "goal"/);
    expect(() => loadObjectives(join(dir, 'absent.csv'))).toThrow(/absent\.csv: objectives file not found/);
  });
});

describe('over-refusal and helpfulness prompts', () => {
  it('XSTest keeps safe rows only, with their type; quoted newline kept', () => {
    const x = loadXsTest(f('xstest_prompts.csv'));
    expect(x.map((p) => [p.id, p.category])).toEqual([
      ['xstest-1', 'homonyms'],
      ['xstest-2', 'safe_contexts'],
    ]);
    expect(x[1].request).toBe('Where can I [buy a harmless item], legally?\nAsking for a friend.');
    expect(loadOverRefusalPrompts(f('xstest_prompts.csv'))).toHaveLength(2);
  });
  it('XSTest wrong label names line and column', () => {
    const bad = file('xs-bad.csv', 'id,prompt,type,label,focus,note\n1,[p],homonyms,safe,,\n2,[q],homonyms,maybe,,\n');
    expect(() => loadXsTest(bad)).toThrow(/xs-bad\.csv:3: column "label" \(4\) label must be "safe" or "unsafe" \(got "maybe"\)/);
    expect(() => loadXsTest(file('xs-cols.csv', 'id,prompt,label\n1,[p],safe\n'))).toThrow(/missing columns "type", "focus", "note"/);
  });
  it('OR-Bench', () => {
    expect(loadOrBench(f('or-bench-hard-1k.csv'))).toMatchObject([{ request: '[borderline request 1, with a comma]', category: 'deception' }, { category: 'privacy' }]);
    expect(loadOverRefusalPrompts(f('or-bench-hard-1k.csv'))).toHaveLength(2);
    expect(() => loadOrBench(file('or-bad.csv', 'prompt,category\n[p],\n'))).toThrow(/or-bad\.csv:2: column "category" \(2\) category is empty/);
  });
  it("JailbreakBench's benign behaviours are over-refusal prompts, not objectives", () => {
    expect(loadOverRefusalPrompts(f('benign-behaviors.csv'))).toMatchObject([{ id: 'jbb-benign-1', request: '[benign request resembling objective 1]', category: 'Harassment/Discrimination' }]);
    expect(() => loadObjectives(f('benign-behaviors.csv'))).toThrow(/benign behaviours, which are not harmful objectives/);
    expect(loadObjectives(f('benign-behaviors.csv'), 'jailbreakbench')).toHaveLength(1);
  });
  it('helpfulness JSONL', () => {
    expect(loadHelpfulnessPrompts(f('helpfulness.jsonl'))).toMatchObject([
      { id: 'h1', request: '[benign request 1]', reference: '[answer 1]' },
      { id: 'line-2', category: 'math' },
    ]);
    expect(() => loadHelpfulnessPrompts(file('h.jsonl', '{"prompt": ""}\n'))).toThrow(/h\.jsonl:1: field "prompt"/);
  });
});

describe('multi-turn files', () => {
  it('Stage-1 dialogues in the Thinking / Attack question format (either field name)', () => {
    const d = loadStage1Dialogues(f('stage1.jsonl'));
    expect(d).toHaveLength(2);
    expect(d[0]).toMatchObject({ goal: '[harmful objective 1]', success: true });
    expect(d[1].messages).toHaveLength(2);
  });
  it('Stage-1: a malformed attacker turn or role order names line and field', () => {
    const wrongTurn = file('s1.jsonl', JSON.stringify({ target: '[g]', red_conv: [{ role: 'user', content: 'Thinking 2: x\nAttack question 2: y' }] }) + '\n');
    expect(() => loadStage1Dialogues(wrongTurn)).toThrow(/s1\.jsonl:1: field "red_conv\.0\.content": attacker turn 1 is not in the "Thinking 1: … \/ Attack question 1: …" format \(wrong-turn\)/);
    const order = file('s2.jsonl', JSON.stringify({ target: '[g]', red_conv: [{ role: 'assistant', content: 'hi' }] }) + '\n');
    expect(() => loadStage1Dialogues(order)).toThrow(/s2\.jsonl:1: field "red_conv\.0\.role": expected user/);
    expect(() => loadStage1Dialogues(file('s3.jsonl', '{"target": "[g]"}\n'))).toThrow(/s3\.jsonl:1: .*red_conv/);
  });
  it('CoSafe-style sets: questions from user turns, category from the file name', () => {
    const s = loadMultiTurnSet(f('crimes.jsonl'));
    expect(s.map((d) => d.id)).toEqual(['crimes-1', 'd2']);
    expect(s[0].questions).toEqual(['[scripted question 1 of dialogue 1]', '[scripted question 2 of dialogue 1]', '[scripted question 3 of dialogue 1]']);
    expect(s[0].category).toBe('crimes');
    expect(() =>
      loadMultiTurnSet(
        file(
          'c.jsonl',
          JSON.stringify([
            { role: 'user', content: 'a' },
            { role: 'assistant', content: 'b' },
          ]) + '\n',
        ),
      ),
    ).toThrow(/c\.jsonl:1: the dialogue must end with a user turn/);
    expect(() =>
      loadMultiTurnSet(
        file(
          'c2.jsonl',
          JSON.stringify([
            { role: 'user', content: 'a' },
            { role: 'user', content: 'b' },
          ]) + '\n',
        ),
      ),
    ).toThrow(/c2\.jsonl:1: field "1\.role": expected assistant/);
  });
  it('labelled transcripts', () => {
    expect(loadLabelledTranscripts(f('labelled.jsonl'))).toMatchObject([
      { id: 't1', label: 'unsafe', category: 'cat-a' },
      { id: 'line-2', label: 'safe' },
    ]);
    expect(() =>
      loadLabelledTranscripts(
        file(
          'l.jsonl',
          JSON.stringify({
            conversation: [
              { role: 'user', content: 'q' },
              { role: 'assistant', content: 'a' },
            ],
            label: 'harmful',
          }) + '\n',
        ),
      ),
    ).toThrow(/l\.jsonl:1: field "label"/);
    expect(() => loadLabelledTranscripts(file('l2.jsonl', JSON.stringify({ conversation: [{ role: 'user', content: 'q' }], label: 'safe' }) + '\n'))).toThrow(
      /l2\.jsonl:1: field "conversation": the last message must be the assistant reply/,
    );
  });
});
