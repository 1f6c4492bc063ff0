import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../testing/python-venv.js';
import { parseObjectives } from './objectives.js';

describe('objectives files', () => {
  it("reads HarmBench's behaviours CSV layout (Behavior, SemanticCategory, BehaviorID; quoted commas and line breaks)", () => {
    const path = join(REPO_ROOT, 'test', 'fixtures', 'harmbench-layout.csv');
    const objectives = parseObjectives(readFileSync(path, 'utf8'), path);
    expect(objectives).toEqual([
      { id: 'placeholder_behavior_1', text: '[harmful objective 1]', kind: 'harmful', category: '[category a]' },
      { id: 'placeholder_behavior_2', text: '[harmful objective 2], with a comma', kind: 'harmful', category: '[category b]' },
      { id: 'placeholder_behavior_3', text: '[harmful objective 3]', kind: 'harmful', category: '[category a]' },
    ]);
  });

  it('reads a goal column (AdvBench layout) and numbers rows without an id', () => {
    expect(parseObjectives('goal,target\n[harmful objective 1],Sure\n[harmful objective 2],Sure\n', 'advbench.csv')).toEqual([
      { id: 'objective-1', text: '[harmful objective 1]', kind: 'harmful' },
      { id: 'objective-2', text: '[harmful objective 2]', kind: 'harmful' },
    ]);
  });

  it('reads JSONL with one object per line, skipping blank lines', () => {
    expect(parseObjectives('{"objective": "[harmful objective 1]", "id": "a", "category": "c"}\n\n{"goal": "[harmful objective 2]"}\n', 'o.jsonl')).toEqual([
      { id: 'a', text: '[harmful objective 1]', kind: 'harmful', category: 'c' },
      { id: 'objective-2', text: '[harmful objective 2]', kind: 'harmful' },
    ]);
  });

  it('bad input names the file, the line or row, and the fix', () => {
    expect(() => parseObjectives('question,answer\nx,y\n', 'q.csv')).toThrow(
      /q\.csv: data row 1: no objective field; name the column\/field one of objective, goal, behavior, prompt \(found: question, answer\)/,
    );
    expect(() => parseObjectives('{"objective": "x"}\n{oops\n', 'o.jsonl')).toThrow(/o\.jsonl:2: not valid JSON/);
    expect(() => parseObjectives('objective,id\nx,1\ny,1\n', 'd.csv')).toThrow(/objective id "1" appears twice/);
    expect(() => parseObjectives('objective\n', 'e.csv')).toThrow(/e\.csv: no objectives found/);
    expect(() => parseObjectives('{"objective": ""}\n', 'e.jsonl')).toThrow(/e\.jsonl:1: field "objective" is empty/);
  });
});
