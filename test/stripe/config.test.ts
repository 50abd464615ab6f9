// Stripe configuration (issue 12): bad values stop the start with one line naming the variable.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createStripeClient } from '../../src/stripe/client.js';

const KEY = 'sk_test_51abcDEF';
const SECRET = 'whsec_abc123';

function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('Stripe configuration', () => {
  it.each([
    [{ STRIPE_SECRET_KEY: 'pk_test_publishable', STRIPE_WEBHOOK_SECRET: SECRET }, 'STRIPE_SECRET_KEY'],
    [{ STRIPE_SECRET_KEY: KEY, STRIPE_WEBHOOK_SECRET: 'not-a-whsec' }, 'STRIPE_WEBHOOK_SECRET'],
    [{ STRIPE_SECRET_KEY: KEY }, 'STRIPE_WEBHOOK_SECRET'],
    [{ STRIPE_WEBHOOK_SECRET: SECRET }, 'STRIPE_SECRET_KEY'],
    [{ STRIPE_API_BASE: 'localhost:12111' }, 'STRIPE_API_BASE'],
    [{ STRIPE_API_BASE: 'http://localhost:12111/v1' }, 'STRIPE_API_BASE'],
    [{ AUTO_RECHARGE_RETRY_SECONDS: '-1' }, 'AUTO_RECHARGE_RETRY_SECONDS'],
  ])('%j is refused naming %s, on one line, without echoing a secret', (env, name) => {
    const message = configError(env);
    expect(message).toMatch(new RegExp(`^Invalid configuration: ${name} must be `));
    expect(message).not.toMatch(/[\r\n]/);
    expect(message).not.toContain('51abcDEF');
    expect(message).not.toContain('abc123');
    expect(message).not.toContain('publishable');
  });

  it('accepts both secrets and a base URL, and points the client at it', () => {
    const config = loadConfig({ STRIPE_SECRET_KEY: KEY, STRIPE_WEBHOOK_SECRET: SECRET, STRIPE_API_BASE: 'http://127.0.0.1:12111' });
    expect(config.AUTO_RECHARGE_RETRY_SECONDS).toBe(900);
    const client = createStripeClient(config);
    expect(client).not.toBeNull();
    expect(createStripeClient(loadConfig({}))).toBeNull();
  });
});
