// An OpenAI chat completion body -> the parameters of one Gemini generateContent call (pure), and the
// policy for every OpenAI parameter (README, "OpenAI parameters per provider"): translated, ignored
// (named in the x-tokengate-ignored-params header) or refused with 400 before Google is called.
import { FunctionCallingConfigMode, type FunctionCallingConfig, type GenerateContentConfig, type GenerateContentParameters, type ToolConfig } from '@google/genai';
import { badRequest, fromZodError } from '../../http/errors.js';
import { translateMessages } from './messages.js';
import { geminiBodySchema, type GeminiChatBody } from './schema.js';

export interface GeminiPlan {
  params: GenerateContentParameters & { config: GenerateContentConfig };
  /** Parameters the client set that Gemini cannot honour but that do not change what the answer means. */
  ignored: string[];
  includeUsage: boolean;
}

/** Read and translated (see toConfig and translateMessages). */
const TRANSLATED = new Set([
  'model',
  'messages',
  'stream',
  'stream_options',
  'max_tokens',
  'max_completion_tokens',
  'temperature',
  'top_p',
  'stop',
  'seed',
  'presence_penalty',
  'frequency_penalty',
  'response_format',
  'tools',
  'tool_choice',
  'reasoning_effort',
]);

/**
 * Parameters whose effect Gemini cannot give and whose absence would change what the answer means:
 * a value asking for the effect is refused; the neutral value is accepted and changes nothing.
 */
const REFUSED: Record<string, (value: unknown) => string | null> = {
  n: (value) => (value === 1 ? null : 'Gemini models answer one choice per request: n must be 1.'),
  logprobs: (value) => (value === false ? null : 'logprobs are not available for Gemini models through this gateway.'),
  top_logprobs: () => 'top_logprobs are not available for Gemini models through this gateway.',
  logit_bias: (value) => (isEmptyObject(value) ? null : 'logit_bias uses OpenAI token ids, which mean nothing to Gemini models.'),
  modalities: (value) => (Array.isArray(value) && value.every((m) => m === 'text') ? null : 'Gemini chat through this gateway answers text only.'),
  audio: () => 'Audio output is not available for Gemini models through this gateway.',
  web_search_options: () => 'Web search is not available for Gemini models through this gateway.',
  functions: () => 'The deprecated functions parameter is not supported for Gemini models: use tools.',
  function_call: () => 'The deprecated function_call parameter is not supported for Gemini models: use tool_choice.',
};

/** Values that ask for nothing Gemini would not do anyway: not reported as ignored. */
const NEUTRAL: Record<string, (value: unknown) => boolean> = {
  store: (value) => value === false,
  parallel_tool_calls: (value) => value === true,
};

/** OpenAI's reasoning_effort as Gemini 2.5 thinking budgets (Google's own mapping for low/medium/high). */
const THINKING_BUDGET: Record<NonNullable<GeminiChatBody['reasoning_effort']>, number> = {
  none: 0,
  minimal: 512,
  low: 1024,
  medium: 8192,
  high: 24576,
  xhigh: 24576,
};

export function planGeminiRequest(body: Record<string, unknown>): GeminiPlan {
  const ignored: string[] = [];
  for (const [name, value] of Object.entries(body)) {
    if (value === null || value === undefined || TRANSLATED.has(name)) continue;
    const refuse = REFUSED[name];
    if (refuse) {
      const reason = refuse(value);
      if (reason) throw badRequest(reason, name, 'unsupported_parameter');
      continue;
    }
    if (!NEUTRAL[name]?.(value)) ignored.push(name);
  }
  const parsed = geminiBodySchema.safeParse(body);
  if (!parsed.success) throw fromZodError(parsed.error);
  const chat = parsed.data;
  const { systemInstruction, contents } = translateMessages(chat.messages);
  const config: GenerateContentConfig = { ...(systemInstruction ? { systemInstruction } : {}), ...toConfig(chat) };
  return { params: { model: chat.model, contents, config }, ignored: ignored.sort(), includeUsage: chat.stream_options?.include_usage === true };
}

function toConfig(chat: GeminiChatBody): GenerateContentConfig {
  const config: GenerateContentConfig = {};
  const maxTokens = chat.max_completion_tokens ?? chat.max_tokens;
  if (maxTokens != null) config.maxOutputTokens = maxTokens;
  if (chat.temperature != null) config.temperature = chat.temperature;
  if (chat.top_p != null) config.topP = chat.top_p;
  if (chat.seed != null) config.seed = chat.seed;
  if (chat.presence_penalty != null) config.presencePenalty = chat.presence_penalty;
  if (chat.frequency_penalty != null) config.frequencyPenalty = chat.frequency_penalty;
  if (chat.stop != null) config.stopSequences = typeof chat.stop === 'string' ? [chat.stop] : chat.stop;
  if (chat.reasoning_effort != null) config.thinkingConfig = { thinkingBudget: THINKING_BUDGET[chat.reasoning_effort] };
  const format = chat.response_format;
  if (format?.type === 'json_object') config.responseMimeType = 'application/json';
  if (format?.type === 'json_schema') {
    config.responseMimeType = 'application/json';
    if (format.json_schema.schema) config.responseJsonSchema = format.json_schema.schema;
  }
  const tools = callableTools(chat);
  if (tools.length > 0) {
    config.tools = [
      {
        functionDeclarations: tools.map(({ function: fn }) => ({
          name: fn.name,
          ...(fn.description ? { description: fn.description } : {}),
          // JSON Schema as OpenAI takes it; Gemini reads it as is (no OpenAPI subset translation).
          ...(fn.parameters ? { parametersJsonSchema: fn.parameters } : {}),
        })),
      },
    ];
  }
  const toolConfig = toToolConfig(chat);
  if (toolConfig) config.toolConfig = toolConfig;
  return config;
}

type Tool = NonNullable<GeminiChatBody['tools']>[number];

/**
 * The declarations Gemini sees. tool_choice `allowed_tools` in `auto` mode narrows them to the allowed
 * ones: Gemini can restrict the choice of function only when a call is required.
 */
function callableTools(chat: GeminiChatBody): Tool[] {
  const tools = chat.tools ?? [];
  const choice = chat.tool_choice;
  if (typeof choice !== 'object' || choice === null || choice.type !== 'allowed_tools' || choice.allowed_tools.mode !== 'auto') return tools;
  const allowed = new Set(declaredNames(chat, choice.allowed_tools.tools.map((tool) => tool.function.name)));
  return tools.filter((tool) => allowed.has(tool.function.name));
}

function toToolConfig(chat: GeminiChatBody): ToolConfig | null {
  const choice = chat.tool_choice;
  if (choice == null) return null;
  if (choice !== 'none' && (chat.tools ?? []).length === 0) throw badRequest('tool_choice needs tools.', 'tool_choice');
  let calling: FunctionCallingConfig;
  if (choice === 'none') calling = { mode: FunctionCallingConfigMode.NONE };
  else if (choice === 'auto') calling = { mode: FunctionCallingConfigMode.AUTO };
  else if (choice === 'required') calling = { mode: FunctionCallingConfigMode.ANY };
  else if (choice.type === 'function') calling = { mode: FunctionCallingConfigMode.ANY, allowedFunctionNames: declaredNames(chat, [choice.function.name]) };
  else if (choice.allowed_tools.mode === 'required') {
    calling = { mode: FunctionCallingConfigMode.ANY, allowedFunctionNames: declaredNames(chat, choice.allowed_tools.tools.map((tool) => tool.function.name)) };
  } else calling = { mode: FunctionCallingConfigMode.AUTO };
  return { functionCallingConfig: calling };
}

function declaredNames(chat: GeminiChatBody, names: string[]): string[] {
  const declared = new Set((chat.tools ?? []).map((tool) => tool.function.name));
  for (const name of names) {
    if (!declared.has(name)) throw badRequest(`tool_choice names the function '${name}', which is not in tools.`, 'tool_choice');
  }
  return names;
}

function isEmptyObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0;
}
