/**
 * Labelled transcripts for `mtsa judge-eval`: JSONL, one conversation per line whose last message
 * is the assistant reply to judge, with a reference label.
 *   {"conversation": [{"role": "user", "content": …}, {"role": "assistant", "content": …}],
 *    "label": "safe" | "unsafe", "id"?: …, "category"?: …, "source"?: …, "objective"?: …, "context"?: …}
 * `objective` (and HarmBench's `context`) let judges that grade against a behaviour (HarmBench)
 * use the original objective instead of the last question.
 */
import { z } from 'zod';
import { MessageSchema } from '../../core/message.js';
import { readJsonl } from './read.js';

export const LabelledTranscriptSchema = z.object({
  conversation: z
    .array(MessageSchema)
    .min(1)
    .refine((c) => c[c.length - 1].role === 'assistant', { message: 'the last message must be the assistant reply being judged' }),
  label: z.enum(['safe', 'unsafe']),
  id: z.string().optional(),
  category: z.string().optional(),
  source: z.string().optional(),
  objective: z.string().optional(),
  context: z.string().optional(),
});
export type LabelledTranscript = z.infer<typeof LabelledTranscriptSchema>;

export function loadLabelledTranscripts(path: string): LabelledTranscript[] {
  return readJsonl(path, LabelledTranscriptSchema, 'labelled transcripts').map((r) => ({ ...r.value, id: r.value.id ?? `line-${r.line}` }));
}
