// Renders a page inside the layout for the signed-in viewer, with the notice its redirect asked for.
import type { Child } from 'hono/jsx';
import { Layout, type Notice, type Viewer } from './layout.js';
import type { UiContext } from './session.js';

// Redirects after a successful post name a notice by code: no text from the URL reaches the page.
const NOTICES: Record<string, Notice> = {
  granted: { kind: 'ok', text: 'Tokens granted.' },
  deducted: { kind: 'ok', text: 'Tokens deducted.' },
  replayed: { kind: 'ok', text: 'This grant was already made (same form submitted again); nothing changed.' },
  revoked: { kind: 'ok', text: 'The key is revoked.' },
  saved: { kind: 'ok', text: 'Saved.' },
  suspended: { kind: 'ok', text: 'The account is suspended: its keys and sessions stop working.' },
  activated: { kind: 'ok', text: 'The account is active again.' },
  canceled: { kind: 'warn', text: 'Checkout was canceled; nothing was charged.' },
};

export function viewer(c: UiContext): Viewer {
  const auth = c.get('auth');
  return { role: auth.key.role, keyName: auth.key.name, accountId: auth.accountId, csrf: c.get('session').csrf, path: c.req.path };
}

export interface RenderOptions {
  notice?: Notice | null;
  status?: 200 | 201 | 400 | 403 | 404 | 409;
  /** Reload the page after this many seconds (a page waiting for a webhook). */
  refreshSeconds?: number;
}

export function render(c: UiContext, title: string, body: Child, options: RenderOptions = {}) {
  const done = c.req.query('done');
  const shown = options.notice ?? (done ? NOTICES[done] : undefined) ?? null;
  c.header('cache-control', 'no-store');
  return c.html(
    <Layout title={title} viewer={viewer(c)} notice={shown} refreshSeconds={options.refreshSeconds}>
      {body}
    </Layout>,
    options.status ?? 200,
  );
}
