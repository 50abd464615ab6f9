// Errors from Google (issue 9): each comes back in OpenAI's error shape with Google's status and a
// useful message that does not describe the operator's Google account, and is billed only when
// Google reported usage (a blocked prompt is answered with HTTP 200 and its prompt count).
import { describe, expect, it } from 'vitest';
import type { ErrorBody } from '../../src/http/errors.js';
import { chargeFor } from '../../src/billing/pricing.js';
import { geminiResponse, googleError, textEvents, usageMetadata } from '../helpers/stub-gemini.js';
import { accountView, expectNotBilled, expectOpenAIErrorShape, funded, postChat, settledUsage } from '../proxy/support.js';
import { GEMINI_FLASH, sdkError, useGeminiEnv } from './support.js';

const env = useGeminiEnv();
const MODEL = 'gemini-2.5-flash';
const messages = [{ role: 'user' as const, content: 'Something Google will not answer.' }];

const blocked = (withUsage: boolean) => ({
  promptFeedback: { blockReason: 'PROHIBITED_CONTENT' },
  ...(withUsage ? { usageMetadata: { promptTokenCount: 13, totalTokenCount: 13 } } : {}),
  modelVersion: 'gemini-2.5-flash',
});

describe('a prompt Google blocks', () => {
  it.each([false, true])('is a 400 content_filter error naming the block reason, nothing billed (stream: %s)', async (stream) => {
    const { client, key } = await funded(env.gw, 10_000);
    env.gemini.enqueue(stream ? { kind: 'stream', events: [blocked(false)] } : { kind: 'json', body: blocked(false) });
    const error = await sdkError(client.chat.completions.create({ model: MODEL, messages, stream }));
    expect(error.status).toBe(400);
    expect(error.error).toMatchObject({ type: 'invalid_request_error', code: 'content_filter', param: 'messages' });
    expect(error.message).toContain('PROHIBITED_CONTENT');
    expect(env.gemini.requests).toHaveLength(1);
    await expectNotBilled(env, error.requestID!);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 10_000, held: 0 });
  });

  it('bills the prompt tokens Google reported with the block (Google answers it with 200), and nothing more', async () => {
    const { client, key } = await funded(env.gw, 10_000);
    env.gemini.enqueue({ kind: 'json', body: blocked(true) });
    const error = await sdkError(client.chat.completions.create({ model: MODEL, messages }));
    expect(error.status).toBe(400);
    expect(error.error).toMatchObject({ code: 'content_filter' });
    const cost = chargeFor({ inputTokens: 13, cachedInputTokens: 0, outputTokens: 0 }, GEMINI_FLASH);
    expect(cost).toBe(4); // ceil(13 * 300000 / 1e6)
    const row = await settledUsage(env, error.requestID!);
    expect(row).toMatchObject({ input_tokens: 13, output_tokens: 0, cost, usage_source: 'provider', status: 'error' });
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 10_000 - cost, held: 0 });
  });

  it('an answer cut by Google\'s filters ends with finish_reason content_filter and is billed as usual', async () => {
    const { client } = await funded(env.gw, 100_000);
    env.gemini.enqueue({ kind: 'json', body: geminiResponse({ text: 'Partial', finishReason: 'SAFETY', usage: usageMetadata(8, 2) }) });
    const { data, response } = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 100 }).withResponse();
    expect(data.choices[0]!.finish_reason).toBe('content_filter');
    expect(await settledUsage(env, response.headers.get('x-request-id')!)).toMatchObject({ input_tokens: 8, output_tokens: 2, status: 'ok' });
  });
});

describe('Google error statuses', () => {
  const projectDetail = 'Quota exceeded for quota metric generate_content_requests for consumer project_number:123456789.';

  it('429: rate_limit_exceeded with retry-after from RetryInfo, without Google\'s account details, unbilled', async () => {
    const { client, key } = await funded(env.gw, 10_000);
    env.gemini.enqueue(
      googleError(429, 'RESOURCE_EXHAUSTED', projectDetail, [
        { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaId: 'GenerateRequestsPerMinute' }] },
        { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '6.2s' },
      ]),
    );
    const error = await sdkError(client.chat.completions.create({ model: MODEL, messages }));
    expect(error.status).toBe(429);
    expect(error.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });
    expect(error.headers?.get('retry-after')).toBe('7');
    expect(error.message).not.toContain('123456789');
    expect(env.gemini.requests).toHaveLength(1); // the gateway does not retry a billed upstream by itself
    await expectNotBilled(env, error.requestID!);
    expect(await accountView(env.gw, key)).toMatchObject({ balance: 10_000, held: 0 });
  });

  it('400 INVALID_ARGUMENT: invalid_request_error with Google\'s explanation, unbilled', async () => {
    const { client } = await funded(env.gw, 10_000);
    env.gemini.enqueue(googleError(400, 'INVALID_ARGUMENT', '* GenerateContentRequest.generation_config.stop_sequences: at most 5 stop sequences'));
    const error = await sdkError(client.chat.completions.create({ model: MODEL, messages }));
    expect(error.status).toBe(400);
    expect(error.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_argument' });
    expect(error.message).toContain('at most 5 stop sequences');
    await expectNotBilled(env, error.requestID!);
  });

  it('404: model_not_found naming the model', async () => {
    const { client } = await funded(env.gw, 10_000);
    env.gemini.enqueue(googleError(404, 'NOT_FOUND', 'models/gemini-2.5-flash is not found for API version v1beta, or is not supported for generateContent.'));
    const error = await sdkError(client.chat.completions.create({ model: MODEL, messages }));
    expect(error.status).toBe(404);
    expect(error.error).toMatchObject({ type: 'invalid_request_error', code: 'model_not_found', param: 'model' });
    expect(error.message).toContain("'gemini-2.5-flash'");
    await expectNotBilled(env, error.requestID!);
  });

  it.each([
    [403, 'PERMISSION_DENIED', 'Permission denied on resource project 123456789.', []],
    [400, 'INVALID_ARGUMENT', 'API key not valid (project 123456789).', [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID' }]],
  ])('%i %s about the gateway\'s own credentials: upstream_auth, no account details', async (status, googleStatus, message, details) => {
    const { client } = await funded(env.gw, 10_000);
    env.gemini.enqueue(googleError(status, googleStatus, message, details));
    const error = await sdkError(client.chat.completions.create({ model: MODEL, messages }));
    expect(error.status).toBe(status);
    expect(error.error).toMatchObject({ type: 'upstream_error', code: 'upstream_auth' });
    expect(error.message).toContain('operator');
    expect(error.message).not.toContain('123456789');
    await expectNotBilled(env, error.requestID!);
  });

  it.each([
    [500, 'INTERNAL', 'An internal error has occurred.'],
    [503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.'],
  ])('%i %s: passes with its status as an upstream_error, unbilled', async (status, googleStatus, message) => {
    const { key } = await funded(env.gw, 10_000);
    env.gemini.enqueue(googleError(status, googleStatus, message));
    const response = await postChat(env.gw, key, { model: MODEL, messages });
    expect(response.status).toBe(status);
    const body = (await response.json()) as ErrorBody;
    expectOpenAIErrorShape(body);
    expect(body.error).toMatchObject({ type: 'upstream_error', code: googleStatus.toLowerCase() });
    expect(body.error.message).toContain(message);
    await expectNotBilled(env, response.headers.get('x-request-id')!);
  });

  it('an error as the first event of a stream is an error response, not a stream', async () => {
    const { client } = await funded(env.gw, 10_000);
    env.gemini.enqueue({ kind: 'stream', events: [{ error: { code: 503, message: 'The model is overloaded.', status: 'UNAVAILABLE' } }] });
    const error = await sdkError(client.chat.completions.create({ model: MODEL, messages, stream: true }));
    expect(error.status).toBe(503);
    await expectNotBilled(env, error.requestID!);
  });

  it('an error event after text ends the stream with an OpenAI error event and no [DONE]; the text is billed as estimated', async () => {
    const { key } = await funded(env.gw, 10_000);
    const [first] = textEvents(['Half an answer', ' never finished.'], usageMetadata(8, 6));
    env.gemini.enqueue({ kind: 'stream', events: [first, { error: { code: 500, message: 'Internal error.', status: 'INTERNAL' } }] });
    const response = await postChat(env.gw, key, { model: MODEL, messages, stream: true });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain('Half an answer');
    expect(text).toContain('"error":{"message":"Gemini failed (INTERNAL): Internal error."');
    expect(text).not.toContain('[DONE]');
    const row = await settledUsage(env, response.headers.get('x-request-id')!);
    expect(row).toMatchObject({ status: 'error', usage_source: 'estimated' });
    expect(row.output_tokens).toBeGreaterThan(0);
  });
});
