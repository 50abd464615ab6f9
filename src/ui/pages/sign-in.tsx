// Sign-in with an API key, exchanged for a session cookie; sign-out.
import { Hono } from 'hono';
import { getCookie } from 'hono/cookie';
import { hashApiKey, KEY_PATTERN } from '../../accounts/api-keys.js';
import type { AppEnv } from '../../http/context.js';
import { ApiError } from '../../http/errors.js';
import { NoticeBanner, Document } from '../layout.js';
import { sameSecret } from '../session-store.js';
import { checkOrigin, clearSessionCookie, forbiddenPage, SESSION_COOKIE, setSessionCookie, SIGNIN_COOKIE, signInToken } from '../session.js';

export const SESSION_TTL_SECONDS = 12 * 3600;

export const signInRoutes = new Hono<AppEnv>();

const REASONS: Record<string, string> = {
  expired: 'Your session has expired; sign in again.',
  ended: 'Your session ended: the key was revoked or expired, or the account is suspended.',
  signed_out: 'You are signed out.',
};

/** Only our own pages after sign-in: a `next` pointing elsewhere would make the form an open redirect. */
function safeNext(next: string | undefined): string {
  return next && /^\/dashboard(\/|\?|$)/.test(next) && !next.startsWith('//') ? next : '/dashboard';
}

function signInPage(csrf: string, next: string, message: { kind: 'warn' | 'error' | 'ok'; text: string } | null) {
  return (
    <Document title="Sign in">
      <main class="signin" id="main">
        <h1>Sign in to tokengate</h1>
        {message && <NoticeBanner notice={message} />}
        <form method="post" action="/dashboard/sign-in" class="stack" data-once>
          <input type="hidden" name="_csrf" value={csrf} />
          <input type="hidden" name="next" value={next} />
          <label>
            API key
            <input type="password" name="key" autocomplete="off" required placeholder="tg-..." autofocus />
          </label>
          <p class="muted">The key is checked once and never stored in this browser: you get a session that ends when you sign out, after 12 hours, or when the key is revoked.</p>
          <button type="submit">Sign in</button>
        </form>
      </main>
    </Document>
  );
}

signInRoutes.get('/sign-in', (c) => {
  const reason = c.req.query('reason');
  c.header('cache-control', 'no-store');
  return c.html(signInPage(signInToken(c), safeNext(c.req.query('next')), reason && REASONS[reason] ? { kind: 'warn', text: REASONS[reason]! } : null));
});

signInRoutes.post('/sign-in', async (c) => {
  checkOrigin(c);
  const form = await c.req.parseBody();
  const sent = typeof form._csrf === 'string' ? form._csrf : '';
  const expected = getCookie(c, SIGNIN_COOKIE) ?? '';
  const key = typeof form.key === 'string' ? form.key.trim() : '';
  const next = safeNext(typeof form.next === 'string' ? form.next : undefined);
  const fail = (text: string, status: 400 | 401 = 401) => c.html(signInPage(signInToken(c), next, { kind: 'error', text }), status);
  // Not our form (or its cookie expired): the key is not even looked at; a fresh form is shown.
  if (!expected || !sameSecret(sent, expected)) return fail('The sign-in form expired; enter the key again.', 400);
  if (!KEY_PATTERN.test(key)) return fail("That is not an API key: keys look like 'tg-' followed by 43 characters.");
  const { authenticator, sessions } = c.get('deps');
  const keyHash = hashApiKey(key);
  try {
    await authenticator.authenticateHash(keyHash);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return fail(error.message);
    throw error;
  }
  const { token } = await sessions.create(keyHash, SESSION_TTL_SECONDS * 1000);
  setSessionCookie(c, token, SESSION_TTL_SECONDS);
  return c.redirect(next, 303);
});

// Sign-out needs no valid session (an ended one still clears its cookie), but it must be our form.
signInRoutes.post('/sign-out', async (c) => {
  checkOrigin(c);
  const token = getCookie(c, SESSION_COOKIE);
  const session = token ? await c.get('deps').sessions.get(token) : null;
  if (session && token) {
    const form = await c.req.parseBody();
    if (!sameSecret(typeof form._csrf === 'string' ? form._csrf : '', session.csrf)) throw forbiddenPage('This form did not come from this dashboard.');
    await c.get('deps').sessions.delete(token);
  }
  clearSessionCookie(c);
  return c.redirect('/dashboard/sign-in?reason=signed_out', 303);
});
