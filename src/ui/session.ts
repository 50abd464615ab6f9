// Dashboard session middleware: the cookie, the same key checks as a bearer key on every request,
// CSRF on every form post, and which roles may use which pages.
import type { Context, MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { KeyRole } from '../accounts/api-keys.js';
import type { AppEnv, AuthContext } from '../http/context.js';
import { ApiError } from '../http/errors.js';
import { newToken, sameSecret, type Session } from './session-store.js';

export const SESSION_COOKIE = 'tg_session';
/** Sign-in has no session yet: its form carries a token matched against this cookie (double submit). */
export const SIGNIN_COOKIE = 'tg_signin';
export const COOKIE_PATH = '/dashboard';

export interface UiEnv extends AppEnv {
  Variables: AppEnv['Variables'] & {
    session: Session;
    sessionToken: string;
  };
}

export type UiContext = Context<UiEnv>;

export const role = (c: UiContext): KeyRole => c.get('auth').key.role;
export const isStaff = (c: UiContext) => role(c) === 'admin' || role(c) === 'auditor';

/** Secure cookies when the gateway is reached over https (directly, or per its PUBLIC_URL). */
function secure<E extends AppEnv>(c: Context<E>): boolean {
  return new URL(c.req.url).protocol === 'https:' || c.get('deps').config.PUBLIC_URL.startsWith('https:');
}

export function setSessionCookie<E extends AppEnv>(c: Context<E>, token: string, maxAgeSeconds: number): void {
  setCookie(c, SESSION_COOKIE, token, { path: COOKIE_PATH, httpOnly: true, sameSite: 'Lax', secure: secure(c), maxAge: maxAgeSeconds });
}

export function clearSessionCookie<E extends AppEnv>(c: Context<E>): void {
  deleteCookie(c, SESSION_COOKIE, { path: COOKIE_PATH, secure: secure(c) });
}

/** The sign-in form's token, set as a short-lived cookie when the form is shown. */
export function signInToken<E extends AppEnv>(c: Context<E>): string {
  const token = getCookie(c, SIGNIN_COOKIE) ?? newToken();
  setCookie(c, SIGNIN_COOKIE, token, { path: COOKIE_PATH, httpOnly: true, sameSite: 'Strict', secure: secure(c), maxAge: 3600 });
  return token;
}

export const forbiddenPage = (message: string) => new ApiError(403, 'forbidden', message);

/**
 * Posts must come from our own pages: a cross-site Origin is refused outright (belt), and the form's
 * token must match the session's (braces). SameSite=Lax already keeps the cookie off cross-site posts.
 */
export function checkOrigin<E extends AppEnv>(c: Context<E>): void {
  const origin = c.req.header('origin');
  if (origin && origin !== 'null') {
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      throw forbiddenPage('This form was sent from another site.');
    }
    if (host !== c.req.header('host')) throw forbiddenPage('This form was sent from another site.');
  }
}

/** Resolves the cookie to a session and the session's key to an auth context; else to the sign-in page. */
export function requireSession(): MiddlewareHandler<UiEnv> {
  return async (c, next) => {
    const token = getCookie(c, SESSION_COOKIE);
    const { sessions, authenticator } = c.get('deps');
    const session = token ? await sessions.get(token) : null;
    if (!token || !session) return toSignIn(c, token ? 'expired' : undefined);
    let auth: AuthContext;
    try {
      auth = await authenticator.authenticateHash(session.keyHash);
    } catch (error) {
      // A revoked or expired key, or a suspended account: the session ends with it.
      if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
        await sessions.delete(token);
        clearSessionCookie(c);
        return toSignIn(c, 'ended');
      }
      throw error;
    }
    c.set('auth', auth);
    c.set('session', session);
    c.set('sessionToken', token);
    if (c.req.method === 'POST') {
      checkOrigin(c);
      const form = await c.req.parseBody();
      const sent = typeof form._csrf === 'string' ? form._csrf : '';
      if (!sameSecret(sent, session.csrf)) throw forbiddenPage('This form has expired or did not come from this dashboard; reload the page and try again.');
    }
    await next();
  };
}

// A form posted after the session ended leads to the sign-in form too (its data is dropped).
function toSignIn(c: UiContext, reason: 'expired' | 'ended' | undefined): Response {
  const next = c.req.method === 'GET' ? c.req.path + (new URL(c.req.url).search || '') : '/dashboard';
  const query = new URLSearchParams({ next, ...(reason && { reason }) });
  return c.redirect(`/dashboard/sign-in?${query}`, 303);
}

/** Page guard: `staff` pages are for admin and auditor keys; `account` pages for user and admin keys. */
export function allow(kind: 'staff' | 'account' | 'admin-write'): MiddlewareHandler<UiEnv> {
  return async (c, next) => {
    const r = role(c);
    if (kind === 'staff' && r === 'user') throw forbiddenPage('These pages need an admin or auditor key.');
    if (kind === 'account' && r === 'auditor') throw forbiddenPage('Auditor keys see the admin pages only.');
    if (kind === 'admin-write' && r !== 'admin') throw forbiddenPage(r === 'auditor' ? 'Auditor keys may only read.' : 'This needs an admin key.');
    await next();
  };
}

/** Form fields as strings (files and repeated fields are not used by the dashboard's forms). */
export async function formFields(c: UiContext): Promise<Record<string, string>> {
  const body = await c.req.parseBody();
  return Object.fromEntries(Object.entries(body).flatMap(([k, v]) => (typeof v === 'string' ? [[k, v]] : [])));
}
