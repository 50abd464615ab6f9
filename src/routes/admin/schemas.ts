// Input schemas of the admin routes: they validate and document what each route takes.
import { z } from 'zod';

// 10^15 billing tokens is a billion dollars at list price; the cap keeps every balance far inside the
// range that JS numbers and Redis Lua (doubles) hold exactly.
export const MAX_TOKEN_AMOUNT = 1_000_000_000_000_000;
export const tokenAmount = z.number().int().min(-MAX_TOKEN_AMOUNT).max(MAX_TOKEN_AMOUNT);

export const createAccountSchema = z.object({
  name: z.string().trim().min(1).max(200),
  email: z.email().max(320).optional(),
  grant: tokenAmount.nonnegative().optional(),
});

export const updateAccountSchema = z.object({ status: z.enum(['active', 'suspended']) });

export const createKeySchema = z.object({
  name: z.string().trim().min(1).max(200),
  role: z.enum(['user', 'admin', 'auditor']).default('user'),
  rpm: z.number().int().positive().optional(),
  tpm: z.number().int().positive().optional(),
  budget: tokenAmount.positive().optional(),
  models: z.array(z.string().min(1)).min(1).optional(),
  expiresAt: z.iso.datetime({ offset: true }).optional(),
});

// Text that ends up in Postgres: NUL is refused by text columns and jsonb alike, and jsonb also refuses
// unpaired surrogates (the grant's reason is stored in the ledger row's metadata).
const storedText = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((text) => !text.includes('\u0000'), 'must not contain NUL (\\u0000) characters')
    .refine((text) => !/\p{Cs}/u.test(text), 'must be valid Unicode text (no unpaired surrogates)');

export const grantSchema = z.object({
  amount: tokenAmount.refine((n) => n !== 0, 'must not be zero'),
  reason: storedText(500),
  idempotencyKey: storedText(200),
  allowNegative: z.boolean().default(false),
});

export const listAccountsSchema = z.object({
  q: z.string().optional(),
  status: z.enum(['active', 'suspended']).optional(),
  minBalance: z.coerce.number().int().optional(),
  maxBalance: z.coerce.number().int().optional(),
  lowBalance: z.enum(['true', 'false']).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().optional(),
});
