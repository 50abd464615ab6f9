// JSON body parsing with zod: a clear 400 in OpenAI's shape for bad JSON, JSON nested too deep, or a bad field.
import type { Context } from 'hono';
import type { z } from 'zod';
import { badRequest, fromZodError } from './errors.js';

/**
 * The deepest nesting of objects and arrays a request body may have. OpenAI's own shapes need about
 * ten levels (a tool's JSON schema a few more); the limit is there because serializing a value
 * (JSON.stringify, when the body is forwarded or counted) recurses once per level and overflows the
 * stack somewhere past a few thousand.
 */
export const MAX_JSON_DEPTH = 64;

export const tooDeepMessage = `The request body nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels`;

/**
 * True when `value` nests objects or arrays deeper than `maxDepth` (the top-level value is depth 1).
 * Iterative, so a body nested 200,000 levels is measured without recursion; it stops at the first
 * container past the limit.
 */
export function nestsDeeperThan(value: unknown, maxDepth: number): boolean {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 1 }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    if (typeof item.value !== 'object' || item.value === null) continue;
    if (item.depth > maxDepth) return true;
    const children = Array.isArray(item.value) ? item.value : Object.values(item.value);
    for (const child of children) if (typeof child === 'object' && child !== null) stack.push({ value: child, depth: item.depth + 1 });
  }
  return false;
}

export async function readJson(c: Context): Promise<unknown> {
  let json: unknown;
  try {
    json = await c.req.json();
  } catch {
    throw badRequest('The request body is not valid JSON.');
  }
  if (nestsDeeperThan(json, MAX_JSON_DEPTH)) throw badRequest(`${tooDeepMessage}.`);
  return json;
}

export async function parseBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const parsed = schema.safeParse(await readJson(c));
  if (!parsed.success) throw fromZodError(parsed.error);
  return parsed.data;
}

export function parseQuery<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  const parsed = schema.safeParse(c.req.query());
  if (!parsed.success) throw fromZodError(parsed.error);
  return parsed.data;
}
