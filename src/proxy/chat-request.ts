// Validation of the chat completion body: only what billing depends on is checked here; every other
// field passes to the provider as the client sent it.
import { z } from 'zod';

const cap = z.number().int().positive().max(10_000_000);

export const chatRequestSchema = z.looseObject({
  model: z.string().min(1, 'must name a model'),
  messages: z.array(z.looseObject({ role: z.string().min(1) })).min(1, 'must contain at least one message'),
  stream: z.boolean().nullish(),
  max_tokens: cap.nullish(),
  max_completion_tokens: cap.nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  n: z.literal(1, 'only n=1 is supported by the metering gateway').nullish(),
});

export type ChatRequestBody = z.infer<typeof chatRequestSchema>;
