// Admin: the packages editor. Packages are never deleted (purchases name them): they are turned off.
import { asc } from 'drizzle-orm';
import { Hono } from 'hono';
import type { FC } from 'hono/jsx';
import { packages } from '../../db/schema.js';
import type { PackageRow } from '../../stripe/packages.js';
import { ApiError } from '../../http/errors.js';
import { createPackage, createPackageSchema, updatePackage, updatePackageSchema } from '../../routes/admin/packages.js';
import { Field } from '../components.js';
import { money, tokens } from '../format.js';
import { fieldErrors, type FieldErrors } from '../form-errors.js';
import { Csrf } from '../layout.js';
import { render, viewer } from '../render.js';
import { allow, formFields, role, type UiContext, type UiEnv } from '../session.js';

export const adminPackagesPage = new Hono<UiEnv>();

adminPackagesPage.use('*', allow('staff'));

const numberText = (text: string | undefined) => (text !== undefined && /^-?\d+$/.test(text.trim()) ? Number(text.trim()) : text);

/** Form text -> the JSON route's input (same schema, same rules). */
const toInput = (form: Record<string, string>) => ({
  name: form.name ?? '',
  tokens: numberText(form.tokens),
  priceCents: numberText(form.priceCents),
  currency: (form.currency ?? '').trim().toLowerCase(),
  sortOrder: numberText(form.sortOrder || '0'),
  active: form.active === 'on',
});

/** A refusal of the shared functions (409 sold terms, id taken...) shown on the form it concerns. */
function refusal(error: unknown): FieldErrors {
  if (error instanceof ApiError && error.status < 500) return { [error.param?.split('.')[0] ?? 'form']: error.message };
  throw error;
}

const PackageFields: FC<{ values: Record<string, string>; errors: FieldErrors; readOnly: boolean }> = ({ values, errors, readOnly }) => (
  <>
    <Field label="Name" error={errors.name}><input name="name" required value={values.name ?? ''} disabled={readOnly} /></Field>
    <Field label="Tokens" error={errors.tokens}><input name="tokens" type="number" min="1" required value={values.tokens ?? ''} disabled={readOnly} /></Field>
    <Field label="Price (smallest currency unit, e.g. cents)" error={errors.priceCents}><input name="priceCents" type="number" min="0" required value={values.priceCents ?? ''} disabled={readOnly} /></Field>
    <Field label="Currency" error={errors.currency}><input name="currency" required maxlength={3} value={values.currency ?? 'usd'} disabled={readOnly} /></Field>
    <Field label="Sort order" error={errors.sortOrder}><input name="sortOrder" type="number" min="0" value={values.sortOrder ?? '0'} disabled={readOnly} /></Field>
    <label class="check"><input type="checkbox" name="active" checked={values.active === 'on'} disabled={readOnly} /> On sale</label>
  </>
);

const asValues = (p: PackageRow): Record<string, string> => ({ name: p.name, tokens: String(p.tokens), priceCents: String(p.priceCents), currency: p.currency, sortOrder: String(p.sortOrder), active: p.active ? 'on' : '' });

async function view(c: UiContext, submitted?: { target: string; values: Record<string, string>; errors: FieldErrors }) {
  const rows = await c.get('deps').db.select().from(packages).orderBy(asc(packages.sortOrder), asc(packages.id));
  const readOnly = role(c) !== 'admin';
  const { csrf } = viewer(c);
  const errorsFor = (target: string) => (submitted?.target === target ? submitted.errors : {});
  return render(
    c,
    'Packages',
    <>
      <section class="packages" aria-label="Packages">
        {rows.map((p) => (
          <form method={readOnly ? undefined : 'post'} action={`/dashboard/admin/packages/${p.id}`} class="stack" aria-label={`Package ${p.id}`}>
            {!readOnly && <Csrf token={csrf} />}
            <div class="label"><code>{p.id}</code>{` · ${tokens(p.tokens)} tokens for ${money(p.priceCents, p.currency)}${p.active ? '' : ' · off sale'}`}</div>
            <PackageFields values={submitted?.target === p.id ? submitted.values : asValues(p)} errors={errorsFor(p.id)} readOnly={readOnly} />
            {errorsFor(p.id).form && <p class="field-error" role="alert">{errorsFor(p.id).form}</p>}
            {!readOnly && <button type="submit">{`Save ${p.id}`}</button>}
          </form>
        ))}
      </section>
      {!readOnly && (
        <>
          <h2>New package</h2>
          <form method="post" action="/dashboard/admin/packages" class="stack" data-once>
            <Csrf token={csrf} />
            <Field label="Id" error={errorsFor('new').id}><input name="id" required value={submitted?.target === 'new' ? (submitted.values.id ?? '') : ''} /></Field>
            <PackageFields values={submitted?.target === 'new' ? submitted.values : { active: 'on', currency: 'usd' }} errors={errorsFor('new')} readOnly={false} />
            {errorsFor('new').form && <p class="field-error" role="alert">{errorsFor('new').form}</p>}
            <button type="submit">Create package</button>
          </form>
        </>
      )}
    </>,
    { status: submitted ? 400 : 200, notice: submitted ? { kind: 'error', text: 'Not saved; see the form.' } : null },
  );
}

adminPackagesPage.get('/', (c) => view(c));

adminPackagesPage.post('/', allow('admin-write'), async (c) => {
  const form = await formFields(c);
  const parsed = createPackageSchema.safeParse({ ...toInput(form), id: form.id?.trim() || undefined });
  if (!parsed.success) return view(c, { target: 'new', values: form, errors: fieldErrors(parsed.error) });
  try {
    await createPackage(c.get('deps').db, parsed.data);
  } catch (error) {
    return view(c, { target: 'new', values: form, errors: refusal(error) });
  }
  return c.redirect('/dashboard/admin/packages?done=saved', 303);
});

adminPackagesPage.post('/:id', allow('admin-write'), async (c) => {
  const form = await formFields(c);
  const id = c.req.param('id');
  const parsed = updatePackageSchema.safeParse(toInput(form));
  if (!parsed.success) return view(c, { target: id, values: form, errors: fieldErrors(parsed.error) });
  try {
    await updatePackage(c.get('deps'), id, parsed.data);
  } catch (error) {
    return view(c, { target: id, values: form, errors: refusal(error) });
  }
  return c.redirect('/dashboard/admin/packages?done=saved', 303);
});
