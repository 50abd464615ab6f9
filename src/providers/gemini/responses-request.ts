// A Responses API body -> the OpenAI chat body the chat translation (request.ts) turns into one
// Gemini generateContent call (pure), and the policy for every Responses field (README, "Gemini
// through /v1/responses"): translated, ignored (named in x-tokengate-ignored-params) or refused (400).
// Stateless: whatever needs a stored response is refused.
import { z } from 'zod';
import { badRequest } from '../../http/errors.js';
import { notStored, inputMessages } from './responses-input.js';
import { planGeminiRequest, type GeminiPlan } from './request.js';

/** What the answer echoes of the request (as OpenAI's Response object does). */
export interface ResponsesEcho {
  instructions: string | null;
  maxOutputTokens: number | null;
  temperature: number | null;
  topP: number | null;
  tools: Record<string, unknown>[];
  toolChoice: unknown;
  textFormat: Record<string, unknown>;
  reasoningEffort: string | null;
  parallelToolCalls: boolean;
  metadata: Record<string, unknown>;
}

export interface ResponsesPlan {
  plan: GeminiPlan;
  /** Fields the client set that Gemini cannot honour but that do not change what the answer means. */
  ignored: string[];
  echo: ResponsesEcho;
}

const functionName = z.looseObject({ type: z.literal('function'), name: z.string().min(1) });
const effort = z.enum(['none', 'minimal', 'low', 'medium', 'high', 'xhigh']);

/** The fields the translation reads, with the types OpenAI documents. */
const bodySchema = z.looseObject({
  model: z.string().min(1),
  instructions: z.string().nullish(),
  max_output_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  tools: z
    .array(
      z.looseObject({
        type: z.literal('function'),
        name: z.string().min(1),
        description: z.string().nullish(),
        parameters: z.record(z.string(), z.unknown()).nullish(),
        strict: z.boolean().nullish(),
      }),
    )
    .nullish(),
  tool_choice: z
    .union([
      z.enum(['none', 'auto', 'required']),
      functionName,
      z.looseObject({ type: z.literal('allowed_tools'), mode: z.enum(['auto', 'required']), tools: z.array(functionName) }),
    ])
    .nullish(),
  text: z
    .looseObject({
      format: z
        .discriminatedUnion('type', [
          z.looseObject({ type: z.literal('text') }),
          z.looseObject({ type: z.literal('json_object') }),
          z.looseObject({ type: z.literal('json_schema'), name: z.string().min(1), schema: z.record(z.string(), z.unknown()), strict: z.boolean().nullish() }),
        ])
        .nullish(),
      verbosity: z.string().nullish(),
    })
    .nullish(),
  reasoning: z.looseObject({ effort: effort.nullish(), summary: z.string().nullish(), generate_summary: z.string().nullish() }).nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
});

type Body = z.infer<typeof bodySchema>;

/** Read by the translation (the core has refused background, conversation and prompt already). */
const TRANSLATED = new Set(['model', 'input', 'instructions', 'stream', 'max_output_tokens', 'temperature', 'top_p', 'tools', 'tool_choice', 'text', 'reasoning', 'metadata', 'parallel_tool_calls']);

/** Fields whose effect needs state Gemini responses do not have, or that Gemini cannot give: a value asking for it is 400. */
const REFUSED: Record<string, (value: unknown) => Error | null> = {
  previous_response_id: () => notStored("'previous_response_id' continues a stored response", 'previous_response_id'),
  store: (value) => (value === true ? notStored("'store: true' asks for the response to be stored", 'store') : null),
  top_logprobs: (value) => (value === 0 ? null : badRequest('top_logprobs are not available for Gemini models through this gateway.', 'top_logprobs', 'unsupported_parameter')),
};

/** Values that ask for nothing Gemini would not do anyway: not reported as ignored. */
const NEUTRAL: Record<string, (value: unknown) => boolean> = {
  // Bounds built-in tool calls, and Gemini gets no built-in tools here.
  max_tool_calls: () => true,
  truncation: (value) => value === 'disabled',
  include: (value) => Array.isArray(value) && value.length === 0,
  stream_options: () => true,
  background: (value) => value === false,
};

export function planResponsesRequest(raw: Record<string, unknown>): ResponsesPlan {
  const ignored: string[] = [];
  for (const [name, value] of Object.entries(raw)) {
    if (value === null || value === undefined) continue;
    const refuse = REFUSED[name];
    if (refuse) {
      const error = refuse(value);
      if (error) throw error;
      continue;
    }
    if (!TRANSLATED.has(name) && !NEUTRAL[name]?.(value)) ignored.push(name);
  }
  refuseBuiltInTools(raw);
  const parsed = bodySchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const param = openAIParam(issue.path);
    throw badRequest(`Invalid '${param}': ${issue.message}.`, param);
  }
  const body = parsed.data;
  if (body.text?.verbosity != null && body.text.verbosity !== 'medium') ignored.push('text.verbosity');
  if (body.reasoning?.summary != null || body.reasoning?.generate_summary != null) ignored.push('reasoning.summary'); // Gemini's thoughts are not shown
  if (body.parallel_tool_calls === false) ignored.push('parallel_tool_calls'); // Gemini may still make several calls

  const chat: Record<string, unknown> = { model: body.model, messages: inputMessages(raw.input, body.instructions) };
  if (body.max_output_tokens != null) chat.max_completion_tokens = body.max_output_tokens;
  if (body.temperature != null) chat.temperature = body.temperature;
  if (body.top_p != null) chat.top_p = body.top_p;
  if (body.tools && body.tools.length > 0) {
    chat.tools = body.tools.map((tool) => ({ type: 'function', function: { name: tool.name, description: tool.description, parameters: tool.parameters } }));
  }
  if (body.tool_choice != null) chat.tool_choice = chatToolChoice(body.tool_choice);
  const format = body.text?.format;
  if (format?.type === 'json_object') chat.response_format = { type: 'json_object' };
  if (format?.type === 'json_schema') chat.response_format = { type: 'json_schema', json_schema: { name: format.name, schema: format.schema, strict: format.strict } };
  if (body.reasoning?.effort != null) chat.reasoning_effort = body.reasoning.effort;
  return { plan: planGeminiRequest(chat), ignored: ignored.sort(), echo: echoOf(body) };
}

/**
 * Built-in tools (web search, file search, code interpreter, ...) run at OpenAI; Gemini's own (Google
 * Search grounding) bills and cites differently, so none is mapped: refused before anything is held.
 */
function refuseBuiltInTools(raw: Record<string, unknown>): void {
  if (Array.isArray(raw.tools)) {
    raw.tools.forEach((tool, index) => {
      const type = typeof tool === 'object' && tool !== null ? (tool as { type?: unknown }).type : undefined;
      if (type !== 'function') {
        throw badRequest(
          `'tools[${index}]' is a${typeof type === 'string' ? ` '${type}'` : 'n untyped'} tool: Gemini models take function tools only through this gateway.`,
          `tools[${index}].type`,
          'unsupported_parameter',
        );
      }
    });
  }
  const choice = raw.tool_choice;
  if (typeof choice === 'object' && choice !== null) {
    const type = (choice as { type?: unknown }).type;
    if (type !== 'function' && type !== 'allowed_tools') throw badRequest(`tool_choice '${String(type)}' names a tool Gemini models do not take through this gateway.`, 'tool_choice', 'unsupported_parameter');
  }
}

function chatToolChoice(choice: NonNullable<Body['tool_choice']>): unknown {
  if (typeof choice === 'string') return choice;
  if (choice.type === 'function') return { type: 'function', function: { name: choice.name } };
  return { type: 'allowed_tools', allowed_tools: { mode: choice.mode, tools: choice.tools.map((tool) => ({ type: 'function', function: { name: tool.name } })) } };
}

function echoOf(body: Body): ResponsesEcho {
  return {
    instructions: body.instructions ?? null,
    maxOutputTokens: body.max_output_tokens ?? null,
    temperature: body.temperature ?? null,
    topP: body.top_p ?? null,
    tools: (body.tools ?? []).map((tool) => ({ type: 'function', name: tool.name, description: tool.description ?? null, parameters: tool.parameters ?? null, strict: tool.strict ?? null })),
    toolChoice: body.tool_choice ?? 'auto',
    textFormat: body.text?.format ?? { type: 'text' },
    reasoningEffort: body.reasoning?.effort ?? null,
    parallelToolCalls: body.parallel_tool_calls ?? true,
    metadata: body.metadata ?? {},
  };
}

/** A zod path as OpenAI names a parameter: `tools[0].name`. */
function openAIParam(path: readonly PropertyKey[]): string {
  return path.map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i === 0 ? '' : '.'}${String(key)}`)).join('');
}
