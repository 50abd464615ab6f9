// Admin: the settings editor (gateway-wide defaults) with validation messages next to the fields.
// Auditors see the values without a way to change them. The alert webhook's secret is never shown.
import { Hono } from 'hono';
import type { FC } from 'hono/jsx';
import type { Settings } from '../../accounts/settings.js';
import { ApiError } from '../../http/errors.js';
import { applySettingsPatch, settingsPatchSchema } from '../../routes/admin/settings.js';
import { activePackages } from '../../stripe/packages.js';
import { Field } from '../components.js';
import type { FieldErrors } from '../form-errors.js';
import { Csrf } from '../layout.js';
import { render, viewer } from '../render.js';
import { allow, formFields, role, type UiContext, type UiEnv } from '../session.js';

export const adminSettingsPage = new Hono<UiEnv>();

adminSettingsPage.use('*', allow('staff'));

const integerText = (text: string | undefined) => (text !== undefined && /^-?\d+$/.test(text.trim()) ? Number(text.trim()) : text);

/** Form values as text: the stored settings, or what was submitted (shown again with its errors). */
function formValues(s: Settings): Record<string, string> {
  return {
    signupGrant: String(s.signupGrant),
    lowBalanceThreshold: String(s.lowBalanceThreshold),
    reservationPolicy: s.reservationPolicy,
    'autoRecharge.enabled': s.autoRecharge.enabled ? 'on' : '',
    'autoRecharge.threshold': String(s.autoRecharge.threshold),
    'autoRecharge.packageId': s.autoRecharge.packageId,
    'autoRecharge.monthlyLimitTokens': String(s.autoRecharge.monthlyLimitTokens),
    'alertWebhook.url': s.alertWebhook.url ?? '',
    'alertWebhook.allowPrivateAddresses': s.alertWebhook.allowPrivateAddresses ? 'on' : '',
  };
}

const NumberField: FC<{ name: string; label: string; values: Record<string, string>; errors: FieldErrors; readOnly: boolean }> = ({ name, label, values, errors, readOnly }) => (
  <Field label={label} error={errors[name]}>
    <input name={name} type="number" min="0" required value={values[name] ?? ''} disabled={readOnly} />
  </Field>
);

async function view(c: UiContext, submitted?: { values: Record<string, string>; errors: FieldErrors }) {
  const { settings, db } = c.get('deps');
  const [current, packages] = await Promise.all([settings.get(), activePackages(db)]);
  const values = submitted?.values ?? formValues(current);
  const errors = submitted?.errors ?? {};
  const readOnly = role(c) !== 'admin';
  const common = { values, errors, readOnly };
  return render(
    c,
    'Settings',
    <form method={readOnly ? undefined : 'post'} action="/dashboard/admin/settings" class="stack" data-once>
      {!readOnly && <Csrf token={viewer(c).csrf} />}
      <NumberField name="signupGrant" label="Signup grant (tokens for a new account when none is given)" {...common} />
      <NumberField name="lowBalanceThreshold" label="Low-balance threshold (tokens; accounts may set their own)" {...common} />
      <Field label="Reservation policy when the balance cannot cover the output cap" error={errors.reservationPolicy}>
        <select name="reservationPolicy" disabled={readOnly}>
          <option value="clamp" selected={values.reservationPolicy === 'clamp'}>clamp: lower the output cap</option>
          <option value="reject" selected={values.reservationPolicy === 'reject'}>reject: answer 402</option>
        </select>
      </Field>
      <h2>Auto-recharge defaults</h2>
      <label class="check"><input type="checkbox" name="autoRecharge.enabled" checked={values['autoRecharge.enabled'] === 'on'} disabled={readOnly} /> On for accounts that have not chosen</label>
      <NumberField name="autoRecharge.threshold" label="Threshold (tokens)" {...common} />
      <Field label="Package" error={errors['autoRecharge.packageId']}>
        <select name="autoRecharge.packageId" disabled={readOnly}>
          {packages.map((p) => (
            <option value={p.id} selected={p.id === values['autoRecharge.packageId']}>{p.name}</option>
          ))}
        </select>
      </Field>
      <NumberField name="autoRecharge.monthlyLimitTokens" label="Monthly limit (tokens)" {...common} />
      <h2>Low-balance webhook</h2>
      <Field label="URL (empty: no webhook)" error={errors['alertWebhook.url']}>
        <input name="alertWebhook.url" type="url" value={values['alertWebhook.url'] ?? ''} disabled={readOnly} />
      </Field>
      <Field label={current.alertWebhook.secret ? 'Signing secret (set; leave empty to keep it)' : 'Signing secret (at least 16 characters)'} error={errors['alertWebhook.secret']}>
        <input name="alertWebhook.secret" type="password" autocomplete="off" value="" disabled={readOnly} />
      </Field>
      <label class="check"><input type="checkbox" name="alertWebhook.allowPrivateAddresses" checked={values['alertWebhook.allowPrivateAddresses'] === 'on'} disabled={readOnly} /> Allow private and loopback addresses</label>
      {errors.form && <p class="field-error" role="alert">{errors.form}</p>}
      {!readOnly && <button type="submit">Save settings</button>}
    </form>,
    { status: submitted ? 400 : 200, notice: submitted ? { kind: 'error', text: 'Not saved; see the fields below.' } : null },
  );
}

adminSettingsPage.get('/', (c) => view(c));

adminSettingsPage.post('/', allow('admin-write'), async (c) => {
  const form = await formFields(c);
  const secret = form['alertWebhook.secret']?.trim();
  // The same patch PATCH /admin/settings takes; an empty secret field keeps the stored secret.
  const parsed = settingsPatchSchema.safeParse({
    signupGrant: integerText(form.signupGrant),
    lowBalanceThreshold: integerText(form.lowBalanceThreshold),
    reservationPolicy: form.reservationPolicy,
    autoRecharge: {
      enabled: form['autoRecharge.enabled'] === 'on',
      threshold: integerText(form['autoRecharge.threshold']),
      packageId: form['autoRecharge.packageId'],
      monthlyLimitTokens: integerText(form['autoRecharge.monthlyLimitTokens']),
    },
    alertWebhook: { url: form['alertWebhook.url']?.trim() || null, ...(secret && { secret }), allowPrivateAddresses: form['alertWebhook.allowPrivateAddresses'] === 'on' },
  });
  const errorsOf = (issues: { path: PropertyKey[]; message: string }[]) => {
    const errors: FieldErrors = {};
    for (const issue of issues) errors[issue.path.map(String).join('.') || 'form'] ??= issue.message;
    return errors;
  };
  if (!parsed.success) return view(c, { values: form, errors: errorsOf(parsed.error.issues) });
  try {
    await applySettingsPatch(c.get('deps'), parsed.data, { requestId: c.get('requestId'), keyId: c.get('auth').key.id });
  } catch (error) {
    if (error instanceof ApiError && error.status === 400) return view(c, { values: form, errors: { [error.param ?? 'form']: error.message } });
    throw error;
  }
  return c.redirect('/dashboard/admin/settings?done=saved', 303);
});
