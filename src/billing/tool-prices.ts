// Built-in tools of the Responses API that the provider bills per call (web search, file search, code
// interpreter, image generation, ...): which of them a request may use, what their calls may cost at
// worst (for the hold), and what the calls a response reports cost. Pure: no I/O.
import type { ToolPrices } from './price-table.js';

/** Tools the client defines and runs itself: the model only writes their calls, billed as output tokens. */
const CLIENT_TOOLS = new Set(['function', 'custom', 'namespace']);

/** The output item a call of a tool appears as, where it is not `<tool>_call`. */
const CALL_ITEM: Readonly<Record<string, string>> = {
  web_search_preview: 'web_search_call',
  web_search: 'web_search_call',
  computer_use_preview: 'computer_call',
  computer: 'computer_call',
};

/** The price key of a tool `type`: the type without its date suffix (`web_search_preview_2025_03_11` -> `web_search_preview`). */
export function toolKey(type: string): string {
  return type.replace(/_\d{4}_\d{2}_\d{2}$/, '');
}

export type ToolCheck = { ok: true; billing: ToolBilling } | { ok: false; index: number; type: string };

/**
 * Checks a request's `tools` against the price table: client tools are free, every other tool needs a
 * per-call price (0 is a price), and a tool without one refuses the request. Entries that are not
 * objects with a string `type` are left to the provider to reject.
 */
export function checkTools(tools: readonly unknown[], prices: ToolPrices): ToolCheck {
  const priced: Record<string, number> = {};
  for (const [index, tool] of tools.entries()) {
    const type = typeof tool === 'object' && tool !== null ? (tool as { type?: unknown }).type : undefined;
    if (typeof type !== 'string' || CLIENT_TOOLS.has(type)) continue;
    const key = toolKey(type);
    const price = Object.hasOwn(prices, key) ? prices[key] : undefined;
    if (price === undefined) return { ok: false, index, type };
    priced[key] = price;
  }
  return { ok: true, billing: new ToolBilling(priced) };
}

/** The per-call tools of one request and their prices. */
export class ToolBilling {
  /** The most one call can cost: the dearest tool of the request. */
  readonly maxCallPrice: number;
  private readonly keysByItemType = new Map<string, string>();

  constructor(readonly prices: Readonly<Record<string, number>>) {
    this.maxCallPrice = Math.max(0, ...Object.values(prices));
    for (const [key, price] of Object.entries(prices)) {
      const itemType = CALL_ITEM[key] ?? `${key}_call`;
      const current = this.keysByItemType.get(itemType);
      // Two tools share an item type (web_search and web_search_preview): a call is billed as the dearer.
      if (current === undefined || price > (prices[current] ?? 0)) this.keysByItemType.set(itemType, key);
    }
  }

  /** Whether any tool of the request costs something per call. */
  get billsCalls(): boolean {
    return this.maxCallPrice > 0;
  }

  /** The worst case of `calls` built-in tool calls. */
  holdFor(calls: number): number {
    return calls * this.maxCallPrice;
  }

  /**
   * The billable calls among a response's output items, by tool. Code interpreter is billed per
   * container, as the provider does: calls that share a `container_id` count once.
   */
  callsIn(items: readonly unknown[]): Record<string, number> {
    const calls: Record<string, number> = {};
    const containers = new Set<string>();
    for (const item of items) {
      if (typeof item !== 'object' || item === null) continue;
      const { type, container_id: containerId } = item as { type?: unknown; container_id?: unknown };
      const key = typeof type === 'string' ? this.keysByItemType.get(type) : undefined;
      if (key === undefined) continue;
      if (key === 'code_interpreter' && typeof containerId === 'string') {
        if (containers.has(containerId)) continue;
        containers.add(containerId);
      }
      calls[key] = (calls[key] ?? 0) + 1;
    }
    return calls;
  }

  /** Billing tokens for the calls (integers: nothing to round). */
  costOf(calls: Readonly<Record<string, number>> | undefined): number {
    let cost = 0;
    for (const [key, count] of Object.entries(calls ?? {})) cost += count * (this.prices[key] ?? 0);
    return cost;
  }
}
