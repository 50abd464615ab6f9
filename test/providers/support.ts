// Set-up for the provider tests: a stub Gemini and a gateway pointed at it (and at a stub OpenAI, as
// in the proxy tests), so the proxy helpers (settledUsage, expectNotBilled, ...) work unchanged.
import { APIError } from 'openai';
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import type { ChatModel } from '../../src/billing/price-table.js';
import { loadPriceTable } from '../../src/billing/price-table.js';
import type { TestGatewayOptions } from '../helpers/harness.js';
import { startStubGemini, type StubGemini } from '../helpers/stub-gemini.js';
import { startProxyEnv, type ProxyEnv } from '../proxy/support.js';

export const GEMINI_FLASH: ChatModel = loadPriceTable().chat('gemini-2.5-flash')!;

export interface GeminiEnv extends ProxyEnv {
  gemini: StubGemini;
}

export function useGeminiEnv(options: TestGatewayOptions = {}): GeminiEnv {
  let gemini: StubGemini | undefined;
  let env: ProxyEnv | undefined;
  beforeAll(async () => {
    gemini = await startStubGemini();
    env = await startProxyEnv({ ...options, env: { GEMINI_API_KEY: gemini.apiKey, GEMINI_BASE_URL: gemini.url, ...options.env } });
  });
  afterAll(async () => {
    await env?.stop();
    await gemini?.stop();
  });
  beforeEach(() => {
    gemini?.reset();
    env?.stub.reset();
  });
  const running = () => {
    if (!env || !gemini) throw new Error('the Gemini environment starts in beforeAll');
    return { env, gemini };
  };
  return {
    get gw() {
      return running().env.gw;
    },
    get stub() {
      return running().env.stub;
    },
    get sql() {
      return running().env.sql;
    },
    get gemini() {
      return running().gemini;
    },
    stop: () => running().env.stop(),
  };
}

/** The SDK error a call ends with (the test fails if it succeeds). */
export async function sdkError(promise: Promise<unknown>): Promise<APIError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(APIError);
  return error as APIError;
}
