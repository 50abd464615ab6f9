// The available balance each account had at its last hold on this instance: tells whether a request
// is far enough from the balance to be held by a cheap prompt bound instead of a tiktoken count.
// Only a hint: a stale value can at worst make a hold larger than needed (the bound is never below
// the count), and a bound the balance cannot pay is re-planned exactly (call.ts).

/** A bound is used only when the last known available balance pays this many of its holds. */
export const BOUND_BALANCE_FACTOR = 100;
const MAX_ACCOUNTS = 10_000;

const lastAvailable = new Map<string, number>();

export function rememberAvailable(accountId: string, availableTokens: number): void {
  if (lastAvailable.size >= MAX_ACCOUNTS && !lastAvailable.has(accountId)) lastAvailable.clear();
  lastAvailable.set(accountId, availableTokens);
}

/** Whether a hold of about `amountTokens` is far from this account's balance (unknown: no). */
export function farFromBalance(accountId: string, amountTokens: number): boolean {
  const available = lastAvailable.get(accountId);
  return available !== undefined && available >= BOUND_BALANCE_FACTOR * amountTokens;
}
