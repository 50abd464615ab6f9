// A stand-in for OpenAI's POST /chat/completions that answers at once from prebuilt bytes, so the
// benchmark measures the hops in front of it, not the upstream. Runs as its own child process of
// bench/run.ts and reports its port over IPC: { port }.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const ID = 'chatcmpl-bench';
const CREATED = 1_700_000_000;
const MODEL = 'gpt-4o-mini';
const PROMPT_TOKENS = 24;
const PIECES = ['Hello', ' there', ',', ' nice', ' to', ' meet', ' you', ' today', '!', ' Bye'];
const USAGE = {
  prompt_tokens: PROMPT_TOKENS,
  completion_tokens: PIECES.length,
  total_tokens: PROMPT_TOKENS + PIECES.length,
  prompt_tokens_details: { cached_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 0 },
};

const completionBytes = Buffer.from(
  JSON.stringify({
    id: ID,
    object: 'chat.completion',
    created: CREATED,
    model: MODEL,
    choices: [{ index: 0, message: { role: 'assistant', content: PIECES.join(''), refusal: null }, logprobs: null, finish_reason: 'stop' }],
    usage: USAGE,
  }),
);

/** The SSE body OpenAI sends; with include_usage every chunk carries `"usage":null` and a usage-only chunk comes last. */
function streamBytes(includeUsage: boolean): Buffer {
  const chunk = (delta: Record<string, unknown>, finishReason: string | null) => ({
    id: ID,
    object: 'chat.completion.chunk',
    created: CREATED,
    model: MODEL,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(includeUsage ? { usage: null } : {}),
  });
  const events: unknown[] = [chunk({ role: 'assistant', content: '', refusal: null }, null)];
  for (const piece of PIECES) events.push(chunk({ content: piece }, null));
  events.push(chunk({}, 'stop'));
  if (includeUsage) events.push({ id: ID, object: 'chat.completion.chunk', created: CREATED, model: MODEL, choices: [], usage: USAGE });
  return Buffer.from([...events.map((event) => `data: ${JSON.stringify(event)}\n\n`), 'data: [DONE]\n\n'].join(''));
}

const streamWithUsage = streamBytes(true);
const streamWithoutUsage = streamBytes(false);

function answer(req: IncomingMessage, res: ServerResponse, raw: Buffer): void {
  let body: { stream?: unknown; stream_options?: { include_usage?: unknown } | null };
  try {
    body = JSON.parse(raw.toString('utf8')) as typeof body;
  } catch {
    res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"message":"bad json","type":"invalid_request_error","code":null,"param":null}}');
    return;
  }
  if (body.stream === true) {
    // No content-length: chunked, like OpenAI. All events leave in one write: the upstream is instant.
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    res.end(body.stream_options?.include_usage === true ? streamWithUsage : streamWithoutUsage);
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': completionBytes.length });
  res.end(completionBytes);
}

const server = createServer((req, res) => {
  if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
    res.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => answer(req, res, Buffer.concat(chunks)));
});
// Idle keep-alive connections survive the pauses between runs.
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});
process.once('SIGTERM', () => process.exit(0));
process.once('disconnect', () => process.exit(0)); // the parent died: do not linger
