// Auto-recharge settings (and the low-balance threshold): a form over PATCH /account/settings's logic.
import { Hono } from 'hono';
import { accountView, findAccount } from '../../accounts/accounts.js';
import { ApiError, notFound } from '../../http/errors.js';
import { parseSettings, updateAccountSettings } from '../../routes/account/settings.js';
import { activePackages } from '../../stripe/packages.js';
import { Field } from '../components.js';
import { dateTime, money, tokens } from '../format.js';
import type { FieldErrors } from '../form-errors.js';
import { Csrf } from '../layout.js';
import { render, viewer } from '../render.js';
import { allow, formFields, type UiContext, type UiEnv } from '../session.js';

export const autoRechargePage = new Hono<UiEnv>();

autoRechargePage.use('*', allow('account'));

async function view(c: UiContext, submitted?: { values: Record<string, string>; errors: FieldErrors }) {
  const { db, holds, settings, stripe } = c.get('deps');
  const [row, defaults, packages] = await Promise.all([findAccount(db, c.get('auth').accountId), settings.get(), activePackages(db)]);
  if (!row) throw notFound('Account not found.');
  const account = await accountView(row, holds, defaults.lowBalanceThreshold);
  const ar = account.autoRecharge;
  const values = submitted?.values ?? {
    enabled: ar.enabled ? 'on' : '',
    threshold: String(ar.threshold ?? defaults.autoRecharge.threshold),
    packageId: ar.packageId ?? defaults.autoRecharge.packageId,
    monthlyLimitTokens: String(ar.monthlyLimitTokens ?? defaults.autoRecharge.monthlyLimitTokens),
    lowBalanceThreshold: String(account.lowBalanceThreshold),
  };
  const errors = submitted?.errors ?? {};
  return render(
    c,
    'Auto-recharge',
    <>
      {ar.lastFailure && (
        <div class="banner error" role="alert" id="last-failure">
          {`Last recharge failed ${dateTime(ar.lastFailure.at)}: ${ar.lastFailure.message} (${ar.lastFailure.declineCode ?? ar.lastFailure.code}). Failures in a row: ${ar.consecutiveFailures}.`}
          {ar.retryAfter && ` Next attempt after ${dateTime(ar.retryAfter)}.`}
        </div>
      )}
      {!stripe && <div class="banner warn" role="status">Payments are not configured on this gateway, so auto-recharge cannot be turned on.</div>}
      <p class="muted">When the available balance falls below the threshold, the package is bought with the card saved at your last Checkout purchase, up to the monthly limit. Three failures in a row turn it off.</p>
      <form method="post" action="/dashboard/auto-recharge" class="stack" data-once>
        <Csrf token={viewer(c).csrf} />
        <label class="check">
          <input type="checkbox" name="enabled" checked={values.enabled === 'on'} /> Recharge automatically
        </label>
        <Field label="Recharge when the available balance is below (tokens)" error={errors.threshold}>
          <input name="threshold" type="number" min="0" required value={values.threshold} />
        </Field>
        <Field label="Package to buy" error={errors.packageId}>
          <select name="packageId">
            {packages.map((p) => (
              <option value={p.id} selected={p.id === values.packageId}>{`${p.name}: ${tokens(p.tokens)} tokens for ${money(p.priceCents, p.currency)}`}</option>
            ))}
          </select>
        </Field>
        <Field label="Monthly limit (tokens bought per calendar month)" error={errors.monthlyLimitTokens}>
          <input name="monthlyLimitTokens" type="number" min="0" required value={values.monthlyLimitTokens} />
        </Field>
        <Field label="Low-balance alert threshold (tokens)" error={errors.lowBalanceThreshold}>
          <input name="lowBalanceThreshold" type="number" min="0" required value={values.lowBalanceThreshold} />
        </Field>
        {errors.form && <p class="field-error" role="alert">{errors.form}</p>}
        <button type="submit">Save</button>
      </form>
    </>,
    { status: submitted ? 400 : 200, notice: submitted ? { kind: 'error', text: 'Not saved; see the fields below.' } : null },
  );
}

autoRechargePage.get('/', (c) => view(c));

const integerText = (text: string | undefined) => (text !== undefined && /^-?\d+$/.test(text.trim()) ? Number(text.trim()) : text);

autoRechargePage.post('/', async (c) => {
  const form = await formFields(c);
  try {
    const input = parseSettings({
      lowBalanceThreshold: integerText(form.lowBalanceThreshold),
      autoRecharge: {
        enabled: form.enabled === 'on',
        threshold: integerText(form.threshold),
        packageId: form.packageId,
        monthlyLimitTokens: integerText(form.monthlyLimitTokens),
      },
    });
    await updateAccountSettings(c.get('deps'), c.get('auth').accountId, input);
  } catch (error) {
    if (error instanceof ApiError && ((error.status < 500 && error.status !== 403) || error.code === 'stripe_not_configured')) {
      // 'autoRecharge.threshold' -> 'threshold': the form's fields are flat.
      const field = String(error.param ?? 'form').split('.').pop()!;
      return view(c, { values: { ...form, enabled: form.enabled === 'on' ? 'on' : '' }, errors: { [field]: error.message } });
    }
    throw error;
  }
  return c.redirect('/dashboard/auto-recharge?done=saved', 303);
});
