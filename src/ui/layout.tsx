// The page frame: head, navigation for the signed-in role, notices, sign-out.
import type { FC, PropsWithChildren } from 'hono/jsx';
import type { KeyRole } from '../accounts/api-keys.js';

export interface Viewer {
  role: KeyRole;
  keyName: string;
  accountId: string;
  csrf: string;
  path: string;
}

const accountLinks = [
  ['/dashboard', 'Overview'],
  ['/dashboard/usage', 'Usage'],
  ['/dashboard/transactions', 'Transactions'],
  ['/dashboard/buy', 'Buy tokens'],
  ['/dashboard/auto-recharge', 'Auto-recharge'],
  ['/dashboard/keys', 'API keys'],
] as const;

const staffLinks = [
  ['/dashboard/admin', 'System'],
  ['/dashboard/admin/accounts', 'Accounts'],
  ['/dashboard/admin/packages', 'Packages'],
  ['/dashboard/admin/settings', 'Settings'],
] as const;

export const Document: FC<PropsWithChildren<{ title: string; refreshSeconds?: number }>> = ({ title, refreshSeconds, children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      {refreshSeconds !== undefined && <meta http-equiv="refresh" content={String(refreshSeconds)} />}
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <title>{`${title} - tokengate`}</title>
      <link rel="stylesheet" href="/dashboard/assets/dashboard.css" />
      <script src="/dashboard/assets/dashboard.js" defer></script>
    </head>
    <body>{children}</body>
  </html>
);

export const Csrf: FC<{ token: string }> = ({ token }) => <input type="hidden" name="_csrf" value={token} />;

export const Layout: FC<PropsWithChildren<{ title: string; viewer: Viewer; notice?: Notice | null; refreshSeconds?: number }>> = ({ title, viewer, notice, refreshSeconds, children }) => {
  const links = [...(viewer.role === 'auditor' ? [] : accountLinks), ...(viewer.role === 'user' ? [] : staffLinks)];
  // The longest link that prefixes the path is the current page (accounts/:id is under Accounts).
  const current = links.map(([href]) => href).filter((href) => viewer.path === href || viewer.path.startsWith(`${href}/`)).sort((a, b) => b.length - a.length)[0];
  return (
    <Document title={title} refreshSeconds={refreshSeconds}>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <a class="brand" href="/dashboard">tokengate</a>
        <nav aria-label="Dashboard">
          {links.map(([href, label]) => (
            <a href={href} aria-current={href === current ? 'page' : undefined}>{label}</a>
          ))}
        </nav>
        <div class="who">
          <span>{`${viewer.keyName} (${viewer.role})`}</span>
          <form method="post" action="/dashboard/sign-out">
            <Csrf token={viewer.csrf} />
            <button type="submit">Sign out</button>
          </form>
        </div>
      </header>
      <main id="main">
        <h1>{title}</h1>
        {notice && <NoticeBanner notice={notice} />}
        {children}
      </main>
    </Document>
  );
};

export interface Notice {
  kind: 'ok' | 'warn' | 'error';
  text: string;
}

export const NoticeBanner: FC<{ notice: Notice }> = ({ notice }) => (
  <div class={`banner ${notice.kind}`} role={notice.kind === 'error' ? 'alert' : 'status'}>
    {notice.text}
  </div>
);
