// PATCH /account/settings {lowBalanceThreshold?, autoRecharge?}: the account's own settings (SPEC 4).
import { eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { z } from 'zod';
import { accountView, findAccount } from '../../accounts/accounts.js';
import { accounts } from '../../db/schema.js';
import { readJson } from '../../http/body.js';
import type { AppEnv } from '../../http/context.js';
import { badRequest, fromZodError, notFound } from '../../http/errors.js';
import { findActivePackage } from '../../stripe/packages.js';
import { tokenAmount } from '../admin/schemas.js';
import { stripeNotConfigured } from '../stripe/errors.js';

export const accountSettings = new Hono<AppEnv>();

// Every field optional, unknown fields refused: a typo must not pass as "nothing to change".
export const settingsPatch = z.strictObject({
  lowBalanceThreshold: tokenAmount.nonnegative().nullable().optional(), // null: back to the gateway default
  autoRecharge: z
    .strictObject({
      enabled: z.boolean(),
      threshold: tokenAmount.nonnegative(),
      packageId: z.string().trim().min(1).max(200),
      monthlyLimitTokens: tokenAmount.nonnegative(),
    })
    .partial()
    .optional(),
});

accountSettings.patch('/settings', async (c) => {
  const { db, holds, settings, stripe } = c.get('deps');
  const input = parseSettings(await readJson(c));
  const row = await findAccount(db, c.get('auth').accountId);
  if (!row) throw notFound('Account not found.');
  const defaults = await settings.get();

  const changes: Partial<typeof accounts.$inferInsert> = {};
  if (input.lowBalanceThreshold !== undefined) changes.lowBalanceThreshold = input.lowBalanceThreshold;
  if (input.autoRecharge) {
    // A partial object changes only what it names; the rest keeps the account's (or the default) value.
    const patch = input.autoRecharge;
    const next = {
      enabled: patch.enabled ?? row.autoRechargeEnabled,
      threshold: patch.threshold ?? row.autoRechargeThreshold ?? defaults.autoRecharge.threshold,
      packageId: patch.packageId ?? row.autoRechargePackageId ?? defaults.autoRecharge.packageId,
      monthlyLimitTokens: patch.monthlyLimitTokens ?? row.autoRechargeMonthlyLimitTokens ?? defaults.autoRecharge.monthlyLimitTokens,
    };
    if (next.enabled || patch.packageId !== undefined) {
      const pkg = await findActivePackage(db, next.packageId);
      if (!pkg) throw badRequest(`Invalid 'autoRecharge.packageId': no active package '${next.packageId}'; GET /packages lists them.`, 'autoRecharge.packageId', 'package_not_found');
      if (next.enabled && next.monthlyLimitTokens < pkg.tokens) {
        throw badRequest(
          `Invalid 'autoRecharge.monthlyLimitTokens': ${next.monthlyLimitTokens} is below one recharge of package '${pkg.id}' (${pkg.tokens} tokens), so no recharge could ever run.`,
          'autoRecharge.monthlyLimitTokens',
        );
      }
    }
    if (next.enabled && !stripe) throw stripeNotConfigured();
    Object.assign(changes, {
      autoRechargeEnabled: next.enabled,
      autoRechargeThreshold: next.threshold,
      autoRechargePackageId: next.packageId,
      autoRechargeMonthlyLimitTokens: next.monthlyLimitTokens,
    });
    // Turning it on again (after three failures, say) starts a fresh count and ends the back-off.
    if (patch.enabled === true) Object.assign(changes, { autoRechargeFailures: 0, autoRechargeLastError: null, autoRechargeRetryAt: null });
  }

  const [updated] = Object.keys(changes).length > 0 ? await db.update(accounts).set(changes).where(eq(accounts.id, row.id)).returning() : [row];
  return c.json(await accountView(updated!, holds, defaults.lowBalanceThreshold));
});

function parseSettings(body: unknown): z.infer<typeof settingsPatch> {
  const parsed = settingsPatch.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  if (issue?.code === 'unrecognized_keys') {
    const param = [...issue.path.map(String), issue.keys[0]].join('.');
    throw badRequest(`Unknown field '${param}'.`, param);
  }
  throw fromZodError(parsed.error);
}
