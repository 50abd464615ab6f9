// Dashboard sessions over HTTP: what sign-in accepts and refuses, where it may lead, the cookie, and
// that a session ends with its key, its account, sign-out or its age.
import { describe, expect, it } from 'vitest';
import { MemorySessionStore, RedisSessionStore } from '../../src/ui/session-store.js';
import { accountWithBalance, keyFor } from '../helpers/factories.js';
import { getPage, openSignIn, postSignIn, signInHttp } from '../helpers/dashboard-http.js';
import { REDIS_URL, useTestGateway } from '../helpers/harness.js';
import { Redis } from 'ioredis';

const env = useTestGateway();

describe('dashboard sign-in', () => {
  it('opens an httpOnly SameSite session for a valid key and leads to the page asked for', async () => {
    const account = await accountWithBalance(env.gw, 100, 'Session Co');
    const key = await keyFor(env.gw, account);
    const response = await postSignIn(env.gw.url, key, '/dashboard/transactions?type=grant');
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/dashboard/transactions?type=grant');
    const cookie = response.headers.getSetCookie().find((c) => c.startsWith('tg_session='))!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).toMatch(/Path=\/dashboard/);
    expect(cookie).toMatch(/Max-Age=43200/);
    expect(cookie).not.toContain(key.slice(3));
    // Only the key's hash is kept server-side: nothing under the gateway's Redis prefix holds the key.
    const redis = new Redis(REDIS_URL);
    try {
      const names = await redis.keys(`${env.gw.redisPrefix}dashboard:session:*`);
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) expect(await redis.get(name)).not.toContain(key);
    } finally {
      redis.disconnect();
    }
  });

  it('never leads off the dashboard after sign-in (no open redirect)', async () => {
    const key = await keyFor(env.gw, await accountWithBalance(env.gw, 0));
    for (const next of ['https://evil.example/', '//evil.example/dashboard', '/admin/accounts', '/dashboardx']) {
      const response = await postSignIn(env.gw.url, key, next);
      expect(response.headers.get('location')).toBe('/dashboard');
    }
  });

  it('refuses unknown, malformed and revoked keys with a message, and a form without its token', async () => {
    const account = await accountWithBalance(env.gw, 0);
    const key = await keyFor(env.gw, account);
    const keys = (await env.gw.request('GET', `/admin/accounts/${account.id}/keys`, { key: env.gw.adminKey })).body.data as { id: string }[];
    await env.gw.request('DELETE', `/admin/accounts/${account.id}/keys/${keys[0]!.id}`, { key: env.gw.adminKey });
    for (const [sent, message] of [
      ['not-a-key', 'That is not an API key'],
      [`tg-${'A'.repeat(43)}`, 'Invalid API key'],
      [key, 'revoked'],
    ] as const) {
      const response = await postSignIn(env.gw.url, sent);
      expect(response.status).toBe(401);
      expect(response.headers.getSetCookie().some((c) => c.startsWith('tg_session='))).toBe(false);
      expect(await response.text()).toContain(message);
    }
    const { cookie } = await openSignIn(env.gw.url);
    const forged = await fetch(`${env.gw.url}/dashboard/sign-in`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: 'guessed', key: env.gw.adminKey }),
    });
    // The key in a form that is not ours is not looked at, and no session is opened.
    expect(forged.status).toBe(400);
    expect(forged.headers.getSetCookie().some((c) => c.startsWith('tg_session='))).toBe(false);
  });

  it('ends the session when its key is revoked', async () => {
    const account = await accountWithBalance(env.gw, 0);
    const key = await keyFor(env.gw, account);
    const session = await signInHttp(env.gw.url, key);
    expect((await getPage(env.gw.url, session, '/dashboard')).status).toBe(200);
    const keys = (await env.gw.request('GET', `/admin/accounts/${account.id}/keys`, { key: env.gw.adminKey })).body.data as { id: string }[];
    await env.gw.request('DELETE', `/admin/accounts/${account.id}/keys/${keys[0]!.id}`, { key: env.gw.adminKey });
    const after = await getPage(env.gw.url, session, '/dashboard');
    expect(after.status).toBe(303);
    expect(after.location).toContain('reason=ended');
  });

  it('keeps pages of one role from the other: users get 403 on admin pages, and admin posts need an admin key', async () => {
    const account = await accountWithBalance(env.gw, 0);
    const session = await signInHttp(env.gw.url, await keyFor(env.gw, account));
    const refused = await getPage(env.gw.url, session, '/dashboard/admin');
    expect(refused.status).toBe(403);
    // An error on a page is a page (with the message), not the API's JSON.
    expect(refused.html).toContain('<h1>Not allowed</h1>');
    expect(refused.html).toContain('These pages need an admin or auditor key.');
    expect((await getPage(env.gw.url, session, `/dashboard/admin/accounts/${account.id}`)).status).toBe(403);
    const post = await fetch(`${env.gw.url}/dashboard/admin/accounts/${account.id}/grant`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: session.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: session.csrf, amount: '1000', reason: 'self-service', idempotencyKey: 'self-1' }),
    });
    expect(post.status).toBe(403);
    expect((await env.gw.request('GET', `/admin/accounts/${account.id}`, { key: env.gw.adminKey })).body.balance).toBe(0);
  });
});

describe('session stores expire sessions', () => {
  it('in process: a session is gone after its time to live', async () => {
    let now = 1_000_000;
    const store = new MemorySessionStore(() => now);
    const { token } = await store.create('hash', 60_000);
    expect(await store.get(token)).toMatchObject({ keyHash: 'hash' });
    now += 59_999;
    expect(await store.get(token)).not.toBeNull();
    now += 1;
    expect(await store.get(token)).toBeNull();
  });

  it('in Redis: the entry carries the time to live, and an entry read after its expiry is refused', async () => {
    const redis = new Redis(REDIS_URL);
    const prefix = `t:sess:${Math.random().toString(36).slice(2, 8)}:`;
    try {
      let now = Date.now();
      const store = new RedisSessionStore(redis, prefix, () => now);
      const { token } = await store.create('hash', 60_000);
      const [name] = await redis.keys(`${prefix}*`);
      const ttl = await redis.pttl(name!);
      expect(ttl).toBeGreaterThan(55_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
      expect(await store.get(token)).not.toBeNull();
      now += 60_000; // Redis may not have dropped it yet: the stored expiry still refuses it
      expect(await store.get(token)).toBeNull();
      await store.delete(token);
      expect(await redis.exists(name!)).toBe(0);
    } finally {
      await redis.del(...(await redis.keys(`${prefix}*`)).concat(`${prefix}none`));
      redis.disconnect();
    }
  });
});
