// Google's image calls share the OpenAI adapter's timeout (UPSTREAM_TIMEOUT_MS): a silent Google is
// 504 upstream_timeout, its request closed, and nothing billed.
import { describe, expect, it } from 'vitest';
import { apiError, expectUntouched, useImageEnv } from '../proxy/image-support.js';
import { expectNotBilled, funded } from '../proxy/support.js';

const env = useImageEnv({ env: { UPSTREAM_TIMEOUT_MS: '300' } });

describe('a Google image call that does not answer in time', () => {
  it('is 504 upstream_timeout and not billed', async () => {
    const { client, key, accountId } = await funded(env.gw, 1_000_000);
    env.google.enqueue({ body: {}, after: new Promise(() => {}) });

    const error = await apiError(client.images.generate({ model: 'imagen-4.0-generate-001', prompt: 'Slow boats' }));

    expect(error.status).toBe(504);
    expect(error.code).toBe('upstream_timeout');
    expect(error.message).toContain('Google did not answer within 300 ms.');
    await expectNotBilled(env, error.requestID!);
    await expectUntouched(env, key, accountId, 1_000_000);
  });
});
