// Validation of the chat completion body, as OpenAI's API reference types it: a body the provider would
// refuse, or that the gateway could not meter, is a 400 before anything is held. Fields the schema
// does not name (top level, in messages and in parts) pass to the provider as the client sent them:
// providers add their own.
import { z } from 'zod';
import { MAX_JSON_DEPTH, nestsDeeperThan, tooDeepMessage } from '../http/body.js';

const cap = z.number().int().positive().max(10_000_000);
const text = z.string();
const jsonObject = z.record(z.string(), z.unknown());

/** A string, or an array validated by `parts` (its errors keep their path, e.g. messages.0.content.1.type). */
function stringOrParts<T extends z.ZodType>(parts: T, message: string) {
  return z.custom<string | z.output<T>>((value) => typeof value === 'string' || Array.isArray(value), message).superRefine((value, ctx) => {
    if (typeof value === 'string') return;
    const parsed = parts.safeParse(value);
    if (!parsed.success) for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path, input: value });
  });
}

function oneOf<T extends readonly [z.core.$ZodTypeDiscriminable, ...z.core.$ZodTypeDiscriminable[]]>(key: string, options: T, names: string) {
  return z.discriminatedUnion(key, options, { error: (issue) => (issue.code === 'invalid_union' ? `${key} must be one of ${names}` : undefined) });
}

const textPart = z.looseObject({ type: z.literal('text'), text });
const refusalPart = z.looseObject({ type: z.literal('refusal'), refusal: text });
const imagePart = z.looseObject({
  type: z.literal('image_url'),
  image_url: z.looseObject({ url: z.string().min(1), detail: z.enum(['auto', 'low', 'high']).nullish() }),
});
const audioPart = z.looseObject({ type: z.literal('input_audio'), input_audio: z.looseObject({ data: text, format: z.enum(['wav', 'mp3']) }) });
const filePart = z.looseObject({
  type: z.literal('file'),
  file: z
    .looseObject({ file_data: text.optional(), file_id: text.optional(), filename: text.optional() })
    .superRefine((file, ctx) => {
      // The gateway sizes a file's hold from its bytes; an uploaded file's size is not in the request.
      if (file.file_id !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['file_id'], input: file.file_id, message: 'files referenced by file_id are not supported by the metering gateway (their cost cannot be bounded before the call); send the file inline as file_data' });
      } else if (file.file_data === undefined) {
        ctx.addIssue({ code: 'custom', path: ['file_data'], input: file, message: 'a file part needs file_data' });
      }
    }),
});

const textParts = z.array(oneOf('type', [textPart], 'text'));
const userParts = z.array(oneOf('type', [textPart, imagePart, audioPart, filePart], 'text, image_url, input_audio, file'));
const assistantParts = z.array(oneOf('type', [textPart, refusalPart], 'text, refusal'));

const toolCall = oneOf(
  'type',
  [
    z.looseObject({ id: text, type: z.literal('function'), function: z.looseObject({ name: text, arguments: text }) }),
    z.looseObject({ id: text, type: z.literal('custom'), custom: z.looseObject({ name: text, input: text }) }),
  ],
  'function, custom',
);

const messageSchema = oneOf(
  'role',
  [
    z.looseObject({ role: z.literal('system'), content: stringOrParts(textParts, 'must be a string or an array of text parts'), name: text.optional() }),
    z.looseObject({ role: z.literal('developer'), content: stringOrParts(textParts, 'must be a string or an array of text parts'), name: text.optional() }),
    z.looseObject({ role: z.literal('user'), content: stringOrParts(userParts, 'must be a string or an array of content parts'), name: text.optional() }),
    z.looseObject({
      role: z.literal('assistant'),
      content: stringOrParts(assistantParts, 'must be a string, null or an array of text and refusal parts').nullish(),
      name: text.optional(),
      refusal: text.nullish(),
      tool_calls: z.array(toolCall).optional(),
      function_call: z.looseObject({ name: text, arguments: text }).nullish(),
      // A previous audio answer is put back into the context by id: its size is not in the request.
      audio: z.null({ error: 'replaying an audio answer by id is not supported by the metering gateway (its cost cannot be bounded before the call)' }).optional(),
    }),
    z.looseObject({ role: z.literal('tool'), content: stringOrParts(textParts, 'must be a string or an array of text parts'), tool_call_id: text }),
    z.looseObject({ role: z.literal('function'), content: text.nullable(), name: text }),
  ],
  'system, developer, user, assistant, tool, function',
);

const functionName = z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'must be 1 to 64 letters, digits, underscores or dashes');
const functionDefinition = z.looseObject({ name: functionName, description: text.optional(), parameters: jsonObject.optional(), strict: z.boolean().nullish() });

const tool = oneOf(
  'type',
  [
    z.looseObject({ type: z.literal('function'), function: functionDefinition }),
    z.looseObject({ type: z.literal('custom'), custom: z.looseObject({ name: text, description: text.optional(), format: jsonObject.optional() }) }),
  ],
  'function, custom',
);

const toolChoice = z.union(
  [
    z.enum(['none', 'auto', 'required']),
    z.looseObject({ type: z.literal('function'), function: z.looseObject({ name: text }) }),
    z.looseObject({ type: z.literal('custom'), custom: z.looseObject({ name: text }) }),
    z.looseObject({ type: z.literal('allowed_tools'), allowed_tools: z.looseObject({ mode: z.enum(['auto', 'required']), tools: z.array(jsonObject) }) }),
  ],
  { error: "must be 'none', 'auto', 'required' or a named tool" },
);

const responseFormat = oneOf(
  'type',
  [
    z.looseObject({ type: z.literal('text') }),
    z.looseObject({ type: z.literal('json_object') }),
    z.looseObject({
      type: z.literal('json_schema'),
      json_schema: z.looseObject({ name: functionName, description: text.optional(), schema: jsonObject.optional(), strict: z.boolean().nullish() }),
    }),
  ],
  'text, json_object, json_schema',
);

export const chatBodySchema = z.looseObject({
  model: z.string().min(1, 'must name a model'),
  messages: z.array(messageSchema).min(1, 'must contain at least one message'),
  stream: z.boolean().nullish(),
  max_tokens: cap.nullish(),
  max_completion_tokens: cap.nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional(), include_obfuscation: z.boolean().optional() }).nullish(),
  n: z.literal(1, 'only n=1 is supported by the metering gateway').nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  logit_bias: z.record(z.string(), z.number().min(-100).max(100)).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
  seed: z.number().int().nullish(),
  stop: z.union([text, z.array(text).max(4)], { error: 'must be a string or an array of up to 4 strings' }).nullish(),
  tools: z.array(tool).optional(),
  tool_choice: toolChoice.optional(),
  parallel_tool_calls: z.boolean().optional(),
  functions: z.array(functionDefinition).optional(),
  function_call: z.union([z.enum(['none', 'auto']), z.looseObject({ name: text })], { error: "must be 'none', 'auto' or {name}" }).optional(),
  response_format: responseFormat.optional(),
  prediction: z.looseObject({ type: z.literal('content'), content: stringOrParts(textParts, 'must be a string or an array of text parts') }).nullish(),
  modalities: z.array(z.enum(['text', 'audio'])).nullish(),
  audio: z.looseObject({ format: z.enum(['wav', 'aac', 'mp3', 'flac', 'opus', 'pcm16']), voice: z.union([text, z.looseObject({ id: text })]) }).nullish(),
  reasoning_effort: z.string().nullish(),
  verbosity: z.enum(['low', 'medium', 'high']).nullish(),
  // Priority processing is billed at other rates than the price table's.
  service_tier: z.enum(['auto', 'default', 'flex', 'scale'], { error: "must be 'auto', 'default', 'flex' or 'scale' (priority processing is not supported by the metering gateway)" }).nullish(),
  store: z.boolean().nullish(),
  metadata: z.record(z.string(), text).nullish(),
  user: text.optional(),
  safety_identifier: text.nullish(),
  prompt_cache_key: text.nullish(),
});

/**
 * The chat completion body. Nesting is checked first (iteratively), so a body nested 100,000 levels
 * is a 400 here rather than a stack overflow wherever it would next be walked or serialized.
 */
export const chatRequestSchema = z
  .unknown()
  .superRefine((value, ctx) => {
    if (nestsDeeperThan(value, MAX_JSON_DEPTH)) ctx.addIssue({ code: 'custom', message: tooDeepMessage, input: value });
  })
  .pipe(chatBodySchema);

export type ChatRequestBody = z.infer<typeof chatRequestSchema>;
