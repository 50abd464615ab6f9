// Bodies over 8 MiB are refused with 413 in OpenAI's shape, whether their length is declared or not.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../src/app.js';
import { startTestGateway, type TestGateway } from '../helpers/harness.js';

let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway();
});

afterAll(async () => {
  await gw?.stop();
});

/** Sends a POST with node:http so the test controls Content-Length versus chunked encoding. */
function post(path: string, body: Buffer, chunked: boolean): Promise<{ status: number; json: { error?: { code?: string } } }> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, gw.url);
    const req = http.request(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json', ...(chunked ? {} : { 'content-length': body.length }) },
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as { error?: { code?: string } } }));
    });
    req.on('error', reject);
    // The gateway answers 413 and closes while a chunked upload is still being written: the rest of
    // the upload then fails with EPIPE on the socket, which is the refusal working, not a test error.
    req.on('socket', (socket) => socket.on('error', () => undefined));
    if (chunked) {
      for (let i = 0; i < body.length; i += 1 << 20) req.write(body.subarray(i, i + (1 << 20)));
      req.end();
    } else req.end(body);
  });
}

describe('body limit', () => {
  const big = Buffer.alloc(MAX_BODY_BYTES + 1, 0x20);

  it('refuses a declared length over the limit', async () => {
    const response = await post('/admin/accounts', big, false);
    expect(response.status).toBe(413);
    expect(response.json.error?.code).toBe('payload_too_large');
  });

  it('refuses a chunked body once it passes the limit', async () => {
    const response = await post('/admin/accounts', big, true);
    expect(response.status).toBe(413);
    expect(response.json.error?.code).toBe('payload_too_large');
  });

  it('accepts a body under the limit', async () => {
    const response = await post('/admin/accounts', Buffer.from(JSON.stringify({ name: 'small' })), true);
    expect(response.status).toBe(201);
  });
});
