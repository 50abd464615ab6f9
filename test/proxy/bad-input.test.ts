// Bad input gets a 400 in OpenAI's shape before anything is held (issue 7, item 6): no 5xx, no
// upstream request, nothing held or billed.
import { describe, expect, it } from 'vitest';
import { accountView, expectNotBilled, expectOpenAIErrorShape, funded, postChat, useProxyEnv } from './support.js';

const env = useProxyEnv();

const user = (content: unknown) => ({ role: 'user', content });
const chat = (extra: Record<string, unknown>) => JSON.stringify({ model: 'gpt-4o-mini', messages: [user('Hello')], ...extra });

/** `tools` whose one function's parameters nest `levels` objects deep, as raw JSON (no recursion to build it). */
const deepTools = (levels: number) =>
  `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}}}]}`;
/** A content array nested `levels` deep. */
const deepContent = (levels: number) => `{"model":"gpt-4o-mini","messages":[{"role":"user","content":${'['.repeat(levels)}"Hi"${']'.repeat(levels)}}]}`;

describe('bad chat bodies: 400 in OpenAI shape, before any hold, nothing sent upstream or billed', () => {
  it.each([
    { name: 'temperature as a string', body: chat({ temperature: 'x' }), param: 'temperature' },
    { name: 'temperature out of range', body: chat({ temperature: 3 }), param: 'temperature' },
    { name: 'top_p out of range', body: chat({ top_p: -0.1 }), param: 'top_p' },
    { name: 'presence_penalty as a string', body: chat({ presence_penalty: 'high' }), param: 'presence_penalty' },
    { name: 'stop as a number', body: chat({ stop: 7 }), param: 'stop' },
    { name: 'content as a number', body: chat({ messages: [user(42)] }), param: 'messages.0.content' },
    { name: 'content as an object', body: chat({ messages: [user({ text: 'Hi' })] }), param: 'messages.0.content' },
    { name: 'a content part of unknown type', body: chat({ messages: [user([{ type: 'video', video: 'x' }])] }), param: 'messages.0.content.0.type' },
    { name: 'an image part on a system message', body: chat({ messages: [{ role: 'system', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }] }), param: 'messages.0.content.0.type' },
    { name: 'a NUL in role', body: chat({ messages: [{ role: 'user\u0000', content: 'Hi' }] }), param: 'messages.0.role' },
    { name: 'an unknown role', body: chat({ messages: [{ role: 'narrator', content: 'Hi' }] }), param: 'messages.0.role' },
    { name: 'a tool message without tool_call_id', body: chat({ messages: [{ role: 'tool', content: 'result' }] }), param: 'messages.0.tool_call_id' },
    { name: 'a malformed tool call', body: chat({ messages: [{ role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f' } }] }] }), param: 'messages.0.tool_calls.0.function.arguments' },
    { name: 'tools that are not function tools', body: chat({ tools: [{ type: 'function', function: 'f' }] }), param: 'tools.0.function' },
    { name: 'a response_format of unknown type', body: chat({ response_format: { type: 'yaml' } }), param: 'response_format.type' },
    { name: 'a file referenced by file_id (its size cannot be bounded)', body: chat({ messages: [user([{ type: 'file', file: { file_id: 'file-abc' } }])] }), param: 'messages.0.content.0.file.file_id' },
    { name: 'priority processing (billed at other rates)', body: chat({ service_tier: 'priority' }), param: 'service_tier' },
    { name: 'tools nested 100,000 levels', body: deepTools(100_000), param: null },
    { name: 'content nested 200,000 levels', body: deepContent(200_000), param: null },
  ])('$name', async ({ body, param }) => {
    const start = 1_000_000;
    const { key } = await funded(env.gw, start);
    const response = await postChat(env.gw, key, body);
    const json = (await response.json()) as { error: Record<string, unknown> };
    expect(response.status).toBe(400);
    expectOpenAIErrorShape(json);
    expect(json.error).toMatchObject({ type: 'invalid_request_error', param });
    expect(env.stub.requests).toHaveLength(0);
    await expectNotBilled(env, response.headers.get('x-request-id')!);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: start, held: 0 });
  });

  it('unknown top-level fields still pass through to the provider', async () => {
    const { key } = await funded(env.gw, 1_000_000);
    const response = await postChat(env.gw, key, chat({ provider_extension: { cache: true }, temperature: 0.5 }));
    expect(response.status).toBe(200);
    expect(env.stub.requests[0]!.body).toMatchObject({ provider_extension: { cache: true }, temperature: 0.5 });
  });
});
