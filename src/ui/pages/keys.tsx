// API keys: list, create with limits (the key is shown once, with a copy button), revoke after confirming.
import { and, eq } from 'drizzle-orm';
import { Hono } from 'hono';
import type { FC } from 'hono/jsx';
import { keyStatus, listApiKeys, type ApiKeyRow } from '../../accounts/api-keys.js';
import { apiKeys } from '../../db/schema.js';
import { ApiError, notFound } from '../../http/errors.js';
import { requireUnrestricted } from '../../routes/account/keys.js';
import { createKeyForAccount, createOwnKeySchema, revokeKey } from '../../routes/shared/api-keys.js';
import { Field, Table } from '../components.js';
import { dateTime, tokens } from '../format.js';
import { Csrf } from '../layout.js';
import { fieldErrors, type FieldErrors } from '../form-errors.js';
import { render, viewer } from '../render.js';
import { allow, formFields, type UiContext, type UiEnv } from '../session.js';

export const keysPage = new Hono<UiEnv>();

keysPage.use('*', allow('account'));

const limits = (k: ApiKeyRow) =>
  [k.rpm && `${tokens(k.rpm)} rpm`, k.tpm && `${tokens(k.tpm)} tpm`, k.budgetTokens && `budget ${tokens(k.budgetTokens)}`, k.models && `models: ${k.models.join(', ')}`, k.expiresAt && `expires ${dateTime(k.expiresAt)}`]
    .filter(Boolean)
    .join('; ') || 'none';

function restricted(c: UiContext): boolean {
  try {
    requireUnrestricted(c.get('auth'));
    return false;
  } catch {
    return true;
  }
}

export const KeysTable: FC<{ rows: ApiKeyRow[]; revokeBase?: string; currentKeyId?: string }> = ({ rows, revokeBase, currentKeyId }) => (
  <Table
    rows={rows}
    caption="API keys"
    empty="No keys."
    columns={[
      { label: 'Name', cell: (k) => (k.id === currentKeyId ? `${k.name} (this session)` : k.name) },
      { label: 'Key', cell: (k) => <code>{k.prefix}</code> },
      { label: 'Role', cell: (k) => k.role },
      { label: 'Status', cell: (k) => keyStatus(k) },
      { label: 'Limits', cell: limits },
      { label: 'Last used', cell: (k) => (k.lastUsedAt ? dateTime(k.lastUsedAt) : 'never') },
      { label: 'Created', cell: (k) => dateTime(k.createdAt) },
      ...(revokeBase ? [{ label: 'Actions', cell: (k: ApiKeyRow) => (keyStatus(k) === 'revoked' ? '' : <a href={`${revokeBase}/${k.id}/revoke`} aria-label={`Revoke ${k.name}`}>Revoke</a>) }] : []),
    ]}
  />
);

const CreateForm: FC<{ csrf: string; values: Record<string, string>; errors: FieldErrors }> = ({ csrf, values, errors }) => (
  <form method="post" action="/dashboard/keys" class="stack" data-once>
    <Csrf token={csrf} />
    <Field label="Name" error={errors.name}><input name="name" required maxlength={200} value={values.name ?? ''} /></Field>
    <Field label="Requests per minute (optional)" error={errors.rpm}><input name="rpm" type="number" min="1" value={values.rpm ?? ''} /></Field>
    <Field label="Tokens per minute (optional)" error={errors.tpm}><input name="tpm" type="number" min="1" value={values.tpm ?? ''} /></Field>
    <Field label="Monthly budget in billing tokens (optional)" error={errors.budget}><input name="budget" type="number" min="1" value={values.budget ?? ''} /></Field>
    <Field label="Models, comma-separated (optional)" error={errors.models}><input name="models" value={values.models ?? ''} placeholder="mock, gpt-4o-mini" /></Field>
    <Field label="Expires on (optional, UTC)" error={errors.expiresAt}><input name="expiresAt" type="date" value={values.expiresAt ?? ''} /></Field>
    <button type="submit">Create key</button>
  </form>
);

async function keysView(c: UiContext, form: { values: Record<string, string>; errors: FieldErrors } = { values: {}, errors: {} }, status: 200 | 400 = 200) {
  const accountId = c.get('auth').accountId;
  const { rows } = await listApiKeys(c.get('deps').db, accountId, { limit: 200 });
  const locked = restricted(c);
  return render(
    c,
    'API keys',
    <>
      <KeysTable rows={rows} revokeBase={locked ? undefined : '/dashboard/keys'} currentKeyId={c.get('auth').key.id} />
      <h2>Create a key</h2>
      {locked ? (
        <p class="muted">You signed in with a key that has limits; such a key cannot create or revoke keys. Sign in with an unrestricted key.</p>
      ) : (
        <CreateForm csrf={viewer(c).csrf} values={form.values} errors={form.errors} />
      )}
    </>,
    { status, notice: Object.keys(form.errors).length > 0 ? { kind: 'error', text: 'The key was not created; see the fields below.' } : null },
  );
}

keysPage.get('/', (c) => keysView(c));

/** Form text -> the JSON route's input: empty fields are left out, numbers are numbers. */
function keyInput(form: Record<string, string>): Record<string, unknown> {
  const input: Record<string, unknown> = { name: form.name ?? '' };
  for (const field of ['rpm', 'tpm', 'budget'] as const) if (form[field]?.trim()) input[field] = Number(form[field]);
  if (form.models?.trim()) input.models = form.models.split(',').map((m) => m.trim()).filter(Boolean);
  if (form.expiresAt?.trim()) input.expiresAt = /^\d{4}-\d{2}-\d{2}$/.test(form.expiresAt.trim()) ? `${form.expiresAt.trim()}T00:00:00Z` : form.expiresAt;
  return input;
}

keysPage.post('/', async (c) => {
  requireUnrestricted(c.get('auth'));
  const form = await formFields(c);
  const parsed = createOwnKeySchema.safeParse(keyInput(form));
  if (!parsed.success) return keysView(c, { values: form, errors: fieldErrors(parsed.error) }, 400);
  let created;
  try {
    created = await createKeyForAccount(c.get('deps'), c.get('auth').accountId, { ...parsed.data, role: 'user' });
  } catch (error) {
    if (error instanceof ApiError && error.status === 400) return keysView(c, { values: form, errors: { [String(error.param ?? 'name').split('.')[0]!]: error.message } }, 400);
    throw error;
  }
  // The secret is in this response only: not in a redirect URL, not cached.
  return render(
    c,
    'Key created',
    <>
      <div class="banner warn" role="status">Copy the key now: it is shown only once and cannot be recovered.</div>
      <div class="secret">
        <code id="new-key">{created.key}</code>
        <button type="button" data-copy="new-key">Copy</button>
      </div>
      <p>{`Name: ${created.row.name}. Limits: ${limits(created.row)}.`}</p>
      <p><a href="/dashboard/keys">Back to keys</a></p>
    </>,
    { status: 201 },
  );
});

async function ownKey(c: UiContext): Promise<ApiKeyRow> {
  const [row] = await c.get('deps').db.select().from(apiKeys).where(and(eq(apiKeys.id, c.req.param('id') ?? ''), eq(apiKeys.accountId, c.get('auth').accountId)));
  if (!row) throw notFound('No such key in this account.');
  return row;
}

keysPage.get('/:id/revoke', async (c) => {
  requireUnrestricted(c.get('auth'));
  const key = await ownKey(c);
  const self = key.id === c.get('auth').key.id;
  return render(
    c,
    'Revoke key',
    <form method="post" action={`/dashboard/keys/${key.id}/revoke`} class="stack" data-once>
      <Csrf token={viewer(c).csrf} />
      <p>{`Revoke "${key.name}" (${key.prefix})? Apps using it get 401 from now on. This cannot be undone.`}</p>
      {self && <p class="field-error">This is the key you signed in with: revoking it also ends this session.</p>}
      <div class="row">
        <button type="submit" class="danger">Revoke key</button>
        <a href="/dashboard/keys" class="button secondary">Cancel</a>
      </div>
    </form>,
  );
});

keysPage.post('/:id/revoke', async (c) => {
  requireUnrestricted(c.get('auth'));
  const key = await ownKey(c);
  await revokeKey(c.get('deps'), c.get('auth').accountId, 'active', key.id);
  return c.redirect('/dashboard/keys?done=revoked', 303);
});
