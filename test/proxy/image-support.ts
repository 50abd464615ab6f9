// Set-up for the image generation tests: a gateway pointed at a stub OpenAI images API and a stub
// Google Gemini API, a Postgres client on its database, and readers for what a request billed.
import OpenAI from 'openai';
import postgres from 'postgres';
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import { startTestGateway, type TestGateway, type TestGatewayOptions } from '../helpers/harness.js';
import { startStubGoogleImages, startStubOpenAIImages, type StubImageProvider } from '../helpers/stub-image-providers.js';
import { accountView, settleAll, settledUsage } from './support.js';

export interface ImageEnv {
  gw: TestGateway;
  sql: postgres.Sql;
  openai: StubImageProvider;
  google: StubImageProvider;
}

/** For a test file: both stubs and a gateway configured for both; the stubs are reset before each test. */
export function useImageEnv(options: TestGatewayOptions = {}): ImageEnv {
  let current: ImageEnv | undefined;
  beforeAll(async () => {
    const [openai, google] = await Promise.all([startStubOpenAIImages(), startStubGoogleImages()]);
    const gw = await startTestGateway({
      ...options,
      env: { OPENAI_BASE_URL: openai.url, OPENAI_API_KEY: openai.apiKey, GEMINI_BASE_URL: google.url, GEMINI_API_KEY: google.apiKey, ...options.env },
    });
    current = { gw, sql: postgres(gw.database.url, { max: 2, onnotice: () => {} }), openai, google };
  });
  afterAll(async () => {
    await current?.sql.end();
    await current?.gw.stop();
    await Promise.all([current?.openai.stop(), current?.google.stop()]);
  });
  beforeEach(() => {
    current?.openai.reset();
    current?.google.reset();
  });
  const running = (): ImageEnv => {
    if (!current) throw new Error('the image environment starts in beforeAll');
    return current;
  };
  return {
    get gw() {
      return running().gw;
    },
    get sql() {
      return running().sql;
    },
    get openai() {
      return running().openai;
    },
    get google() {
      return running().google;
    },
  };
}

export interface ImageUsageRow {
  model: string;
  provider: string;
  operation: string | null;
  images: number;
  input_tokens: number;
  output_tokens: number;
  cost: number;
  rates: Record<string, unknown>;
  usage_source: string;
  status: string;
}

/** The settled usage row of an image request, with its `images` column. */
export async function imageUsage(env: ImageEnv, requestId: string): Promise<ImageUsageRow> {
  await settledUsage(env, requestId);
  const [row] = await env.sql`select model, provider, operation, images::int, input_tokens::int, output_tokens::int, cost::int, rates, usage_source, status
    from usage_events where id = ${requestId}`;
  return row as unknown as ImageUsageRow;
}

/** The balance is what it was, nothing is held, and no usage row was written for the account. */
export async function expectUntouched(env: ImageEnv, key: string, accountId: string, balance: number): Promise<void> {
  await settleAll(env.gw);
  expect(await accountView(env.gw, key)).toMatchObject({ balance, held: 0, available: balance });
  expect(await env.sql`select id from usage_events where account_id = ${accountId}`).toEqual([]);
}

/** POST /v1/images/generations with fetch, for bodies the SDK would not send. */
export function postImages(gw: TestGateway, key: string, body: unknown): Promise<Response> {
  return fetch(`${gw.url}/v1/images/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** The rejection of an SDK call, as the SDK's APIError. */
export async function apiError(call: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await call;
  } catch (error) {
    if (error instanceof OpenAI.APIError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}
