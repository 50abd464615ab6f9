// Money is integers: every amount of billing tokens passes through here before it is stored or summed.

/** Returns n if it is a safe integer; throws otherwise, so a float or overflow can never reach the ledger. */
export function assertTokens(n: number, what = 'amount'): number {
  if (!Number.isSafeInteger(n)) throw new RangeError(`${what} must be a safe integer number of tokens, got ${n}`);
  return n;
}

/** Postgres bigint results arrive as strings from raw queries; converts with the same check. */
export function toTokens(value: string | number | bigint | null | undefined, what = 'amount'): number {
  if (value === null || value === undefined) return 0;
  return assertTokens(typeof value === 'number' ? value : Number(value), what);
}
