// OpenAI's Responses API and embeddings wire formats for the stub (stub-openai.ts): Response objects,
// their SSE event sequences, and embedding lists. Shapes follow OpenAI's API reference (a Response as
// the API returns it; `event: <type>` plus `data: {"type", "sequence_number", ...}` frames; no [DONE]).
const CREATED = 1_760_000_000;

export interface ResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export function responsesUsage(inputTokens: number, outputTokens: number, details: { cached?: number; reasoning?: number } = {}): ResponsesUsage {
  return {
    input_tokens: inputTokens,
    input_tokens_details: { cached_tokens: details.cached ?? 0 },
    output_tokens: outputTokens,
    output_tokens_details: { reasoning_tokens: details.reasoning ?? 0 },
    total_tokens: inputTokens + outputTokens,
  };
}

export type OutputItem = Record<string, unknown> & { id: string; type: string };

export function messageItem(text: string, id = 'msg_stub0001'): OutputItem {
  return { id, type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', annotations: [], logprobs: [], text }] };
}

export function functionCallItem(name: string, args: string, id = 'fc_stub0001', callId = 'call_stub0001'): OutputItem {
  return { id, type: 'function_call', status: 'completed', call_id: callId, name, arguments: args };
}

export function webSearchCallItem(query: string, id = 'ws_stub0001'): OutputItem {
  return { id, type: 'web_search_call', status: 'completed', action: { type: 'search', query } };
}

export function reasoningItem(id = 'rs_stub0001'): OutputItem {
  return { id, type: 'reasoning', summary: [] };
}

export interface ResponseOptions {
  id?: string;
  model?: string;
  output?: OutputItem[];
  usage: ResponsesUsage | null;
  status?: 'completed' | 'incomplete' | 'failed' | 'in_progress';
  /** Request fields echoed back, as OpenAI does (tools, store, previous_response_id, max_output_tokens...). */
  request?: Record<string, unknown>;
  error?: { code: string; message: string } | null;
}

/** A Response object as `POST /v1/responses` returns it (and as the terminal stream events carry it). */
export function responseObject(options: ResponseOptions): Record<string, unknown> {
  const request = options.request ?? {};
  const status = options.status ?? 'completed';
  return {
    id: options.id ?? 'resp_stub0001',
    object: 'response',
    created_at: CREATED,
    status,
    background: false,
    billing: { payer: 'developer' },
    completed_at: status === 'completed' ? CREATED + 1 : null,
    error: options.error ?? null,
    incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    instructions: request.instructions ?? null,
    max_output_tokens: request.max_output_tokens ?? null,
    max_tool_calls: request.max_tool_calls ?? null,
    model: options.model ?? 'gpt-4o-mini-2024-07-18',
    output: options.output ?? [messageItem('Hello from the stub.')],
    parallel_tool_calls: true,
    previous_response_id: request.previous_response_id ?? null,
    prompt_cache_key: null,
    reasoning: { effort: null, summary: null },
    safety_identifier: null,
    service_tier: 'default',
    store: request.store ?? true,
    temperature: 1.0,
    text: { format: { type: 'text' }, verbosity: 'medium' },
    tool_choice: 'auto',
    tools: request.tools ?? [],
    top_logprobs: 0,
    top_p: 1.0,
    truncation: 'disabled',
    usage: options.usage,
    user: null,
    metadata: {},
  };
}

type EventBody = Record<string, unknown> & { type: string };
export type ResponseEvent = EventBody & { sequence_number: number };

/**
 * The events OpenAI streams for a Response: created, in_progress, then per output item its added /
 * delta / done events, then the terminal event carrying the whole Response (`response.completed`,
 * `response.incomplete` or `response.failed` by its status). Text and arguments are split in `pieces`.
 */
export function responseEvents(response: Record<string, unknown>, pieces = 3): ResponseEvent[] {
  const events: EventBody[] = [];
  const opening = { ...response, status: 'in_progress', output: [], usage: null, completed_at: null, incomplete_details: null, error: null };
  events.push({ type: 'response.created', response: opening }, { type: 'response.in_progress', response: opening });
  (response.output as OutputItem[]).forEach((item, outputIndex) => events.push(...itemEvents(item, outputIndex, pieces)));
  const status = response.status as string;
  const terminal = status === 'incomplete' ? 'response.incomplete' : status === 'failed' ? 'response.failed' : 'response.completed';
  events.push({ type: terminal, response });
  return events.map((event, index) => ({ ...event, sequence_number: index }));
}

function itemEvents(item: OutputItem, outputIndex: number, pieces: number): EventBody[] {
  const base = { output_index: outputIndex, item_id: item.id };
  switch (item.type) {
    case 'message': {
      const text = String((item.content as { text: string }[])[0]!.text);
      const part = { type: 'output_text', annotations: [], logprobs: [], text: '' };
      return [
        { type: 'response.output_item.added', output_index: outputIndex, item: { ...item, status: 'in_progress', content: [] } },
        { type: 'response.content_part.added', ...base, content_index: 0, part },
        ...split(text, pieces).map((delta) => ({ type: 'response.output_text.delta', ...base, content_index: 0, delta, logprobs: [] })),
        { type: 'response.output_text.done', ...base, content_index: 0, text, logprobs: [] },
        { type: 'response.content_part.done', ...base, content_index: 0, part: { ...part, text } },
        { type: 'response.output_item.done', output_index: outputIndex, item },
      ];
    }
    case 'function_call': {
      const args = String(item.arguments);
      return [
        { type: 'response.output_item.added', output_index: outputIndex, item: { ...item, status: 'in_progress', arguments: '' } },
        ...split(args, pieces).map((delta) => ({ type: 'response.function_call_arguments.delta', ...base, delta })),
        { type: 'response.function_call_arguments.done', ...base, arguments: args },
        { type: 'response.output_item.done', output_index: outputIndex, item },
      ];
    }
    case 'web_search_call':
      return [
        { type: 'response.output_item.added', output_index: outputIndex, item: { id: item.id, type: item.type, status: 'in_progress' } },
        { type: 'response.web_search_call.in_progress', ...base },
        { type: 'response.web_search_call.searching', ...base },
        { type: 'response.web_search_call.completed', ...base },
        { type: 'response.output_item.done', output_index: outputIndex, item },
      ];
    default:
      return [
        { type: 'response.output_item.added', output_index: outputIndex, item },
        { type: 'response.output_item.done', output_index: outputIndex, item },
      ];
  }
}

function split(text: string, pieces: number): string[] {
  const size = Math.max(1, Math.ceil(text.length / pieces));
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += size) parts.push(text.slice(i, i + size));
  return parts;
}

/** Events as SSE frames the way OpenAI writes them: an `event:` line naming the type, then the data. */
export function sseFrames(events: readonly ResponseEvent[]): string[] {
  return events.map((event) => `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
}

/** A Responses error event as OpenAI sends it mid-stream (nested under `error`). */
export function responsesErrorEvent(sequenceNumber: number, code: string, message: string): ResponseEvent {
  return { type: 'error', sequence_number: sequenceNumber, error: { type: 'server_error', code, message, param: null } };
}

/** A deterministic embedding of `dimensions` floats (exact in float32, so base64 round-trips). */
export function embeddingVector(index: number, dimensions: number): number[] {
  return Array.from({ length: dimensions }, (_, i) => ((index + 1) * (i + 1)) / 8);
}

/** `POST /v1/embeddings`'s answer: one embedding per input, as floats or as base64 of little-endian float32. */
export function embeddingList(options: { inputs: number; dimensions?: number; encodingFormat?: unknown; promptTokens: number; model?: string }): Record<string, unknown> {
  const dimensions = options.dimensions ?? 4;
  return {
    object: 'list',
    data: Array.from({ length: options.inputs }, (_, index) => {
      const vector = embeddingVector(index, dimensions);
      const embedding = options.encodingFormat === 'base64' ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
      return { object: 'embedding', index, embedding };
    }),
    model: options.model ?? 'text-embedding-3-small',
    usage: { prompt_tokens: options.promptTokens, total_tokens: options.promptTokens },
  };
}
