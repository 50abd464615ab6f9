// GET/PATCH /admin/settings: the gateway-wide settings (SPEC 4). The alert webhook's signing secret is
// masked in every answer and never logged; a change reaches every instance at once (SettingsStore
// publishes it) and is written in one transaction, after the whole patch validated.
import { Hono } from 'hono';
import { z } from 'zod';
import { settingsSchema, type Settings } from '../../accounts/settings.js';
import { parseBody } from '../../http/body.js';
import type { AppEnv } from '../../http/context.js';
import { badRequest, fromZodError } from '../../http/errors.js';
import { findActivePackage } from '../../stripe/packages.js';
import { tokenAmount } from './schemas.js';

export const adminSettings = new Hono<AppEnv>();

/** Every field optional (a partial object changes only what it names), unknown fields refused. */
export const settingsPatchSchema = z.strictObject({
  signupGrant: tokenAmount.nonnegative().optional(),
  lowBalanceThreshold: tokenAmount.nonnegative().optional(),
  reservationPolicy: z.enum(['clamp', 'reject']).optional(),
  autoRecharge: z
    .strictObject({
      enabled: z.boolean(),
      threshold: tokenAmount.nonnegative(),
      packageId: z.string().trim().min(1).max(200),
      monthlyLimitTokens: tokenAmount.nonnegative(),
    })
    .partial()
    .optional(),
  alertWebhook: z
    .strictObject({
      url: z.string().max(2000).nullable(),
      /** The signing secret; send the masked value back (or omit it) to keep the current one. */
      secret: z.string().max(200).nullable(),
      allowPrivateAddresses: z.boolean(),
    })
    .partial()
    .optional(),
});

const MASK = '****';

/** Shows that a secret is set and which one (its last 4 characters), never the secret itself. */
export function maskSecret(secret: string | null): string | null {
  return secret === null ? null : `${MASK}${secret.slice(-4)}`;
}

export function publicSettings(value: Settings) {
  return { ...value, alertWebhook: { ...value.alertWebhook, secret: maskSecret(value.alertWebhook.secret) } };
}

adminSettings.get('/settings', async (c) => c.json(publicSettings(await c.get('deps').settings.get())));

adminSettings.patch('/settings', async (c) => {
  const { settings, db, log } = c.get('deps');
  const patch = await parseBody(c, settingsPatchSchema);
  const current = await settings.get();
  const changes: Partial<Settings> = {};
  if (patch.signupGrant !== undefined) changes.signupGrant = patch.signupGrant;
  if (patch.lowBalanceThreshold !== undefined) changes.lowBalanceThreshold = patch.lowBalanceThreshold;
  if (patch.reservationPolicy !== undefined) changes.reservationPolicy = patch.reservationPolicy;
  if (patch.autoRecharge) changes.autoRecharge = { ...current.autoRecharge, ...patch.autoRecharge };
  if (patch.alertWebhook) {
    const hook = { ...current.alertWebhook, ...patch.alertWebhook };
    // A form that sends back what GET showed keeps the secret it masks.
    if (hook.secret !== null && hook.secret === maskSecret(current.alertWebhook.secret)) hook.secret = current.alertWebhook.secret;
    else if (hook.secret?.startsWith(MASK)) throw badRequest("Invalid 'alertWebhook.secret': send the new secret in full, or omit it to keep the current one.", 'alertWebhook.secret');
    changes.alertWebhook = hook;
  }
  // The whole result is checked (a url needs a secret, no private address...) before anything is written.
  const checked = settingsSchema.safeParse({ ...current, ...changes });
  if (!checked.success) throw fromZodError(checked.error);
  if (patch.autoRecharge?.packageId !== undefined && !(await findActivePackage(db, patch.autoRecharge.packageId))) {
    throw badRequest(`Invalid 'autoRecharge.packageId': no active package '${patch.autoRecharge.packageId}'; GET /admin/packages lists them.`, 'autoRecharge.packageId', 'package_not_found');
  }
  if (Object.keys(changes).length === 0) return c.json(publicSettings(current));
  const updated = await settings.update(changes);
  // Which settings changed and by whom; the values stay out of the log (the webhook secret is one).
  log.info({ requestId: c.get('requestId'), keyId: c.get('auth').key.id, changed: Object.keys(changes) }, 'settings changed');
  return c.json(publicSettings(updated));
});
