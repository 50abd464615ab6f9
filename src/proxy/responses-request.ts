// Validation of the Responses API body: only what billing and ownership depend on is checked here;
// every other field passes to the provider as the client sent it.
import { z } from 'zod';
import { badRequest } from '../http/errors.js';

const cap = z.number().int().positive().max(10_000_000);

export const responsesRequestSchema = z.looseObject({
  model: z.string().min(1, 'must name a model'),
  input: z.union([z.string(), z.array(z.unknown())]).nullish(),
  instructions: z.string().nullish(),
  stream: z.boolean().nullish(),
  store: z.boolean().nullish(),
  background: z.boolean().nullish(),
  max_output_tokens: cap.nullish(),
  /** Bounds the built-in tool calls of one response, and so their share of the hold. */
  max_tool_calls: z.number().int().nonnegative().max(1_000).nullish(),
  previous_response_id: z.string().min(1).nullish(),
  tools: z.array(z.looseObject({ type: z.string().min(1, 'must name a tool type') })).nullish(),
  conversation: z.unknown().optional(),
  prompt: z.unknown().optional(),
});

export type ResponsesRequestBody = z.infer<typeof responsesRequestSchema>;

/**
 * Features the gateway cannot meter or cannot keep to one account: refused with a clear 400 rather
 * than forwarded. A background response is answered later, out of the gateway's sight (its usage would
 * never be billed); conversations and stored prompts live in the operator's provider account, shared
 * by every account of the gateway.
 */
export function refuseUnsupported(body: ResponsesRequestBody): void {
  if (body.background === true) {
    throw badRequest('Background responses are not supported by this gateway: it bills a response from the answer it relays, and a background response is finished later, out of its sight. Use stream: true for long responses.', 'background', 'unsupported_parameter');
  }
  if (body.conversation != null) {
    throw badRequest('Conversations are not supported by this gateway yet: continue a response with previous_response_id instead.', 'conversation', 'unsupported_parameter');
  }
  if (body.prompt != null) {
    throw badRequest("Stored prompt templates are not supported by this gateway: they live in the operator's provider account. Send instructions and input instead.", 'prompt', 'unsupported_parameter');
  }
}
