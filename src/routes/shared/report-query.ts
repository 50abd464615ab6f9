// Query-string schemas of the usage and stats routes: each bad field is a 400 naming it.
import { z } from 'zod';
import { ledgerTypes } from '../../db/schema.js';
import { decodeCursor } from '../../reports/cursor.js';
import { MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE, usageGroupings } from '../../reports/usage.js';

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** An ISO 8601 date (midnight UTC) or date-time with Z or an offset. */
export const isoInstant = z
  .string()
  .refine((text) => (DATE_ONLY.test(text) || DATE_TIME.test(text)) && realDay(text) && !Number.isNaN(Date.parse(text)), 'must be an ISO 8601 date (2026-01-31) or date-time with a zone (2026-01-31T12:00:00Z)')
  .transform((text) => new Date(DATE_ONLY.test(text) ? `${text}T00:00:00Z` : text));

/** Date.parse rolls 2026-02-30 over into March: the calendar day must exist. */
function realDay(text: string): boolean {
  const [year, month, day] = text.slice(0, 10).split('-').map(Number) as [number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

const rangeFields = { from: isoInstant.optional(), to: isoInstant.optional() };

/** from must come before to (from is inclusive, to exclusive). */
const orderedRange = <T extends { from?: Date; to?: Date }>(value: T, ctx: z.core.$RefinementCtx<T>) => {
  if (value.from && value.to && value.from >= value.to) ctx.addIssue({ code: 'custom', path: ['to'], message: "must be later than 'from'" });
};

const text = z.string().min(1).max(200);

const usageFilterFields = { ...rangeFields, model: text.optional(), operation: text.optional(), key: text.optional() };

const pageFields = {
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
};

export const usageListQuery = z
  .object({ ...usageFilterFields, ...pageFields, cursor: z.string().refine((c) => decodeCursor(c) !== null, 'is not a cursor this listing returned').optional() })
  .superRefine(orderedRange);

export const usageSummaryQuery = z.object({ ...usageFilterFields, groupBy: z.enum(usageGroupings) }).superRefine(orderedRange);

export const rangeQuery = z.object(rangeFields).superRefine(orderedRange);

export const transactionsQuery = z.object({
  type: z.enum(ledgerTypes).optional(),
  ...pageFields,
  cursor: z.coerce.number().int().positive().optional(),
});
