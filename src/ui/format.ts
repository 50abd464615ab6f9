// How the dashboard writes numbers, money and dates: one place, so every page reads the same.
const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** 1234567 -> "1,234,567" (billing tokens are integers). */
export const tokens = (n: number) => integer.format(n);

/** +500 / -1,200: amounts in the ledger carry their sign. */
export const signedTokens = (n: number) => (n > 0 ? `+${integer.format(n)}` : integer.format(n));

/** Amounts in the currency's smallest unit, as Stripe counts them: 1999, 'usd' -> "$19.99". */
export function money(cents: number, currency: string): string {
  const code = currency.toUpperCase();
  let digits = 2;
  try {
    digits = new Intl.NumberFormat('en-US', { style: 'currency', currency: code }).resolvedOptions().maximumFractionDigits ?? 2;
    return new Intl.NumberFormat('en-US', { style: 'currency', currency: code }).format(cents / 10 ** digits);
  } catch {
    return `${(cents / 100).toFixed(2)} ${code}`;
  }
}

/** "2026-11-30 04:12 UTC": one time zone for everyone who reads the same ledger. */
export function dateTime(value: Date | string): string {
  const date = typeof value === 'string' ? new Date(value) : value;
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export const day = (value: Date | string) => (typeof value === 'string' ? value : value.toISOString()).slice(0, 10);
