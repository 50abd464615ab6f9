// The parts of an OpenAI chat completion body that the Gemini translation reads, checked for the types
// OpenAI documents: a body that does not match is refused (400) before Google is called. Unknown
// fields pass the check; request.ts decides whether they are ignored or refused.
import { z } from 'zod';

const textPart = z.looseObject({ type: z.literal('text'), text: z.string() });
const refusalPart = z.looseObject({ type: z.literal('refusal'), refusal: z.string() });
const imagePart = z.looseObject({
  type: z.literal('image_url'),
  image_url: z.looseObject({ url: z.string().min(1), detail: z.string().nullish() }),
});
const audioPart = z.looseObject({
  type: z.literal('input_audio'),
  input_audio: z.looseObject({ data: z.string().min(1), format: z.enum(['wav', 'mp3']) }),
});
const filePart = z.looseObject({
  type: z.literal('file'),
  file: z.looseObject({ file_data: z.string().nullish(), file_id: z.string().nullish(), filename: z.string().nullish() }),
});

const partsOf = <T extends z.ZodType>(part: T, kinds: string) =>
  z.array(part, { error: (issue) => (issue.input === undefined ? undefined : `must be a string or an array of ${kinds} parts`) });

const userPart = z.discriminatedUnion('type', [textPart, imagePart, audioPart, filePart], { error: 'must be a text, image_url, input_audio or file part' });
const assistantPart = z.discriminatedUnion('type', [textPart, refusalPart], { error: 'must be a text or refusal part' });

const toolCall = z.looseObject({
  id: z.string().min(1),
  type: z.literal('function'),
  function: z.looseObject({ name: z.string().min(1), arguments: z.string() }),
});

export const messageSchema = z.discriminatedUnion(
  'role',
  [
    z.looseObject({ role: z.enum(['system', 'developer']), content: z.union([z.string(), partsOf(textPart, 'text')]) }),
    z.looseObject({ role: z.literal('user'), content: z.union([z.string(), partsOf(userPart, 'content')]) }),
    z.looseObject({
      role: z.literal('assistant'),
      content: z.union([z.string(), partsOf(assistantPart, 'text or refusal')]).nullish(),
      tool_calls: z.array(toolCall).nullish(),
      function_call: z.null({ error: 'is deprecated and not supported for Gemini models; use tool_calls' }).optional(),
    }),
    z.looseObject({ role: z.literal('tool'), content: z.union([z.string(), partsOf(textPart, 'text')]), tool_call_id: z.string().min(1) }),
  ],
  { error: 'must be a system, developer, user, assistant or tool message' },
);

const functionName = z.looseObject({ name: z.string().min(1) });

export const geminiBodySchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(messageSchema).min(1),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  max_tokens: z.number().int().positive().nullish(),
  max_completion_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  seed: z.number().int().nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  stop: z.union([z.string(), z.array(z.string()).max(5)]).nullish(),
  response_format: z
    .discriminatedUnion('type', [
      z.looseObject({ type: z.literal('text') }),
      z.looseObject({ type: z.literal('json_object') }),
      z.looseObject({
        type: z.literal('json_schema'),
        json_schema: z.looseObject({ name: z.string().min(1), schema: z.record(z.string(), z.unknown()).nullish() }),
      }),
    ])
    .nullish(),
  tools: z
    .array(
      z.looseObject({
        type: z.literal('function', { error: 'only function tools are supported for Gemini models' }),
        function: z.looseObject({
          name: z.string().min(1),
          description: z.string().nullish(),
          parameters: z.record(z.string(), z.unknown()).nullish(),
        }),
      }),
    )
    .nullish(),
  tool_choice: z
    .union([
      z.enum(['none', 'auto', 'required']),
      z.looseObject({ type: z.literal('function'), function: functionName }),
      z.looseObject({
        type: z.literal('allowed_tools'),
        allowed_tools: z.looseObject({
          mode: z.enum(['auto', 'required']),
          tools: z.array(z.looseObject({ type: z.literal('function'), function: functionName })),
        }),
      }),
    ])
    .nullish(),
  reasoning_effort: z.enum(['none', 'minimal', 'low', 'medium', 'high', 'xhigh']).nullish(),
});

export type GeminiChatBody = z.infer<typeof geminiBodySchema>;
export type ChatMessage = z.infer<typeof messageSchema>;
export type UserPart = z.infer<typeof userPart>;
