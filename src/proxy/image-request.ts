// Validation of POST /v1/images/generations, in OpenAI's shape. Strict: a field the gateway does not
// know may change what the provider charges (partial images, say), so it is refused rather than
// forwarded unmetered. Which fields a provider honours is the adapter's business.
import { z } from 'zod';

/** OpenAI's longest prompt (gpt-image-1). */
export const MAX_IMAGE_PROMPT_CHARS = 32_000;

export const imageRequestSchema = z.strictObject({
  model: z.string().min(1, 'must name a model'),
  prompt: z.string().min(1, 'must not be empty').max(MAX_IMAGE_PROMPT_CHARS, `must be at most ${MAX_IMAGE_PROMPT_CHARS} characters`),
  n: z.number().int().min(1).max(10).nullish(),
  size: z.string().min(1).nullish(),
  quality: z.string().min(1).nullish(),
  response_format: z.enum(['url', 'b64_json']).nullish(),
  background: z.enum(['transparent', 'opaque', 'auto']).nullish(),
  output_format: z.enum(['png', 'jpeg', 'webp']).nullish(),
  output_compression: z.number().int().min(0).max(100).nullish(),
  moderation: z.enum(['low', 'auto']).nullish(),
  style: z.enum(['vivid', 'natural']).nullish(),
  user: z.string().max(256).nullish(),
  stream: z.boolean().nullish(),
});

export type ImageRequestBody = z.infer<typeof imageRequestSchema>;
