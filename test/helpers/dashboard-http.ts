// Signing in to the dashboard without a browser (fetch and cookies by hand), for HTTP-level tests.
export interface DashboardSession {
  cookie: string;
  csrf: string;
}

const cookieValue = (setCookie: string[], name: string) => setCookie.map((c) => c.split(';')[0]!).find((c) => c.startsWith(`${name}=`));

export async function openSignIn(base: string): Promise<{ cookie: string; csrf: string }> {
  const form = await fetch(`${base}/dashboard/sign-in`);
  const html = await form.text();
  const cookie = cookieValue(form.headers.getSetCookie(), 'tg_signin');
  const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!cookie || !csrf) throw new Error('the sign-in page did not set its form token');
  return { cookie, csrf };
}

/** Posts the sign-in form; returns the raw response (303 on success). */
export async function postSignIn(base: string, key: string, next?: string): Promise<Response> {
  const { cookie, csrf } = await openSignIn(base);
  return fetch(`${base}/dashboard/sign-in`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf, key, ...(next && { next }) }),
  });
}

export async function signInHttp(base: string, key: string): Promise<DashboardSession> {
  const response = await postSignIn(base, key);
  if (response.status !== 303) throw new Error(`sign-in failed: ${response.status}`);
  const cookie = cookieValue(response.headers.getSetCookie(), 'tg_session');
  if (!cookie) throw new Error('sign-in set no session cookie');
  const page = await fetch(`${base}/dashboard/transactions`, { headers: { cookie }, redirect: 'manual' });
  const html = await page.text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
  return { cookie, csrf };
}

/** GET a dashboard page with the session; the status and the HTML. */
export async function getPage(base: string, session: DashboardSession, path: string): Promise<{ status: number; html: string; location: string | null }> {
  const response = await fetch(`${base}${path}`, { headers: { cookie: session.cookie }, redirect: 'manual' });
  return { status: response.status, html: await response.text(), location: response.headers.get('location') };
}
