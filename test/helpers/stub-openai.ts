// A stub of OpenAI's POST /chat/completions on a random local port: each answer is scripted by the test,
// and every request the gateway sends is recorded (body, headers, the bytes answered, when it closed).
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface StubUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number; audio_tokens?: number };
  completion_tokens_details?: { reasoning_tokens?: number; audio_tokens?: number; accepted_prediction_tokens?: number; rejected_prediction_tokens?: number };
}

export type Script =
  /** A JSON body (a completion or an OpenAI error) with the given status, sent once `after` resolves (if given). */
  | { kind: 'json'; status?: number; body: unknown; headers?: Record<string, string>; after?: Promise<unknown> }
  /** Any bytes, e.g. an HTML error page from a proxy in front of the provider. */
  | { kind: 'raw'; status: number; body: string; contentType?: string }
  /**
   * An SSE stream of `chunks` (each sent as one `data:` event), then the usage chunk (`choices: []`)
   * only when the request asked for `stream_options.include_usage` and `usage` is given, then
   * `data: [DONE]`. Like OpenAI, with include_usage every other chunk carries `"usage": null`.
   */
  | {
      kind: 'stream';
      chunks: Record<string, unknown>[];
      usage?: StubUsage | null;
      everyMs?: number;
      /** end without `data: [DONE]` */
      noDone?: boolean;
      /** Waits for this before sending the usage chunk (and what follows), as a reasoning model finishing its accounting. */
      usageAfter?: Promise<unknown>;
    }
  /** `chunk` again and again, one every `everyMs`, until the gateway closes the connection. */
  | { kind: 'endless'; chunk: Record<string, unknown>; everyMs: number };

export type Scripter = (body: Record<string, unknown>, request: RecordedRequest) => Script;

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
  /** Every byte written back, for byte-exact comparisons. */
  sent: Buffer;
  /** Resolves when the connection for this request closed; `byPeer` is true if it closed before the answer ended. */
  closed: Promise<{ byPeer: boolean }>;
}

export interface StubOpenAI {
  url: string;
  requests: RecordedRequest[];
  /** Answers the next requests in order; when the queue is empty, the default scripter answers. */
  enqueue(...scripts: (Script | Scripter)[]): void;
  /** The answer when the queue is empty (default: a small completion). */
  setDefault(scripter: Scripter): void;
  /** Resolves once `count` requests have been received since the last reset. */
  waitForRequests(count: number): Promise<void>;
  /** Forgets recorded requests and queued scripts. */
  reset(): void;
  stop(): Promise<void>;
}

export function usage(promptTokens: number, completionTokens: number, details: { cached?: number; reasoning?: number } = {}): StubUsage {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: details.cached ?? 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: details.reasoning ?? 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

const CREATED = 1_760_000_000;

export interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

/** A non-stream chat.completion as OpenAI returns it; `usage: null` leaves the field out. */
export function completion(options: { content?: string | null; toolCalls?: ToolCall[]; usage: StubUsage | null; model?: string; id?: string }): Record<string, unknown> {
  const toolCalls = options.toolCalls ?? [];
  return {
    id: options.id ?? 'chatcmpl-stub0001',
    object: 'chat.completion',
    created: CREATED,
    model: options.model ?? 'gpt-4o-mini-2024-07-18',
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: options.content === undefined ? 'Hello from the stub.' : options.content,
          refusal: null,
          annotations: [],
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls.map((t) => ({ id: t.id, type: 'function', function: { name: t.name, arguments: t.arguments } })) } : {}),
        },
        logprobs: null,
        finish_reason: toolCalls.length > 0 ? 'tool_calls' : 'stop',
      },
    ],
    ...(options.usage ? { usage: options.usage } : {}),
    service_tier: 'default',
    system_fingerprint: 'fp_stub',
  };
}

/** One chat.completion.chunk with a single choice. */
export function chunk(delta: Record<string, unknown>, finishReason: string | null = null, id = 'chatcmpl-stub0002'): Record<string, unknown> {
  return {
    id,
    object: 'chat.completion.chunk',
    created: CREATED,
    model: 'gpt-4o-mini-2024-07-18',
    service_tier: 'default',
    system_fingerprint: 'fp_stub',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
  };
}

/** The chunks OpenAI streams for a text answer: role first, content pieces, then the finish reason. */
export function textChunks(pieces: string[]): Record<string, unknown>[] {
  return [chunk({ role: 'assistant', content: '', refusal: null }), ...pieces.map((content) => chunk({ content })), chunk({}, 'stop')];
}

/** The chunks OpenAI streams for one tool call: id/name first, then the arguments in fragments. */
export function toolCallChunks(call: ToolCall, fragments: string[]): Record<string, unknown>[] {
  return [
    chunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }], refusal: null }),
    ...fragments.map((fragment) => chunk({ tool_calls: [{ index: 0, function: { arguments: fragment } }] })),
    chunk({}, 'tool_calls'),
  ];
}

export function openAIError(status: number, message: string, type: string, code: string | null): Script {
  return { kind: 'json', status, body: { error: { message, type, param: null, code } } };
}

const defaultScripter: Scripter = () => ({ kind: 'json', body: completion({ usage: usage(10, 5) }) });

export async function startStubOpenAI(): Promise<StubOpenAI> {
  const requests: RecordedRequest[] = [];
  let queue: (Script | Scripter)[] = [];
  let fallback = defaultScripter;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let waiters: { count: number; resolve: () => void }[] = [];

  const server: Server = createServer((req, res) => {
    void handle(req, res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parts: Buffer[] = [];
    for await (const part of req) parts.push(part as Buffer);
    const text = Buffer.concat(parts).toString('utf8');
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = { unparsable: text };
    }
    const sent: Buffer[] = [];
    const recorded: RecordedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body,
      get sent() {
        return Buffer.concat(sent);
      },
      closed: new Promise((resolve) => res.once('close', () => resolve({ byPeer: !res.writableFinished }))),
    };
    requests.push(recorded);
    waiters = waiters.filter((w) => (requests.length >= w.count ? (w.resolve(), false) : true));
    const write = (bytes: string) => {
      sent.push(Buffer.from(bytes));
      res.write(bytes);
    };

    if (req.method !== 'POST' || req.url !== '/chat/completions') {
      res.writeHead(404, { 'content-type': 'application/json' });
      write(JSON.stringify({ error: { message: `stub: no route ${req.method} ${req.url}`, type: 'invalid_request_error', param: null, code: null } }));
      res.end();
      return;
    }
    const next = queue.shift() ?? fallback;
    const script = typeof next === 'function' ? next(body, recorded) : next;

    switch (script.kind) {
      case 'json':
        if (script.after) await script.after;
        if (res.destroyed) return;
        res.writeHead(script.status ?? 200, { 'content-type': 'application/json', 'openai-processing-ms': '12', ...script.headers });
        write(JSON.stringify(script.body));
        res.end();
        return;
      case 'raw':
        res.writeHead(script.status, { 'content-type': script.contentType ?? 'text/html' });
        write(script.body);
        res.end();
        return;
      case 'stream': {
        const includeUsage = (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
        const events = script.chunks.map((c) => (includeUsage ? { ...c, usage: null } : c));
        if (includeUsage && script.usage) {
          const last = script.chunks.at(-1) ?? chunk({});
          events.push({ id: last.id, object: 'chat.completion.chunk', created: CREATED, model: last.model, service_tier: 'default', system_fingerprint: 'fp_stub', choices: [], usage: script.usage });
        }
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
        res.flushHeaders();
        const frames = [...events.map((e) => `data: ${JSON.stringify(e)}\n\n`), ...(script.noDone ? [] : ['data: [DONE]\n\n'])];
        const usageFrame = includeUsage && script.usage ? script.chunks.length : -1;
        for (const [index, frame] of frames.entries()) {
          if (index === usageFrame && script.usageAfter) await script.usageAfter;
          if (res.destroyed) return;
          write(frame);
          if (script.everyMs) await delay(script.everyMs, timers);
        }
        res.end();
        return;
      }
      case 'endless': {
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
        res.flushHeaders();
        const frame = `data: ${JSON.stringify(script.chunk)}\n\n`;
        write(frame);
        const timer = setInterval(() => {
          if (res.destroyed) return;
          write(frame);
        }, script.everyMs);
        timers.add(timer);
        res.once('close', () => {
          clearInterval(timer);
          timers.delete(timer);
        });
        return;
      }
    }
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    enqueue: (...scripts) => queue.push(...scripts),
    setDefault: (scripter) => (fallback = scripter),
    waitForRequests: (count) =>
      requests.length >= count ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ count, resolve })),
    reset: () => {
      requests.length = 0;
      queue = [];
      fallback = defaultScripter;
    },
    stop: async () => {
      for (const timer of timers) clearInterval(timer);
      timers.clear();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function delay(ms: number, timers: Set<NodeJS.Timeout>): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      resolve();
    }, ms);
    timers.add(timer);
  });
}
