// The OpenAPI 3.1 document, generated from the route catalog: paths and methods, who may call each
// (security and `x-tokengate-access`), and request bodies and query parameters from the very zod
// schemas the handlers validate with (z.toJSONSchema, input side). Built once per process.
import { z } from 'zod';
import { ROLES_BY_ACCESS, type Access } from '../http/access.js';
import type { RouteSpec } from '../routes/catalog.js';

type JsonSchema = Record<string, unknown>;

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  paths: Record<string, Record<string, JsonSchema>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, JsonSchema> };
  tags: Array<{ name: string; description: string }>;
}

const TAGS: Record<string, string> = {
  operations: 'Probes, metrics and this reference.',
  openai: 'OpenAI-compatible routes: every call is metered and billed.',
  account: "The key's own account.",
  admin: 'Operators: accounts, keys, grants, settings, packages, prices (auditors read only).',
  other: 'Callers other than API keys: internal usage, Stripe, Checkout pages.',
};

/** `/v1/models/:id{.+}` -> `/v1/models/{id}`. */
export function openApiPath(honoPath: string): string {
  return honoPath.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, '{$1}');
}

function tagOf(route: RouteSpec): string {
  if (route.path.startsWith('/v1/')) return 'openai';
  if (route.path === '/account' || route.path.startsWith('/account/') || route.path === '/packages') return 'account';
  if (route.path.startsWith('/admin/')) return 'admin';
  if (route.access === 'public' && !route.path.startsWith('/stripe') && !route.path.startsWith('/checkout')) return 'operations';
  return 'other';
}

/** A stable operation id: `patchAdminPackagesById`. */
function operationId(route: RouteSpec): string {
  const words = openApiPath(route.path)
    .split(/[/._-]+/)
    .filter(Boolean)
    .map((part) => (part.startsWith('{') ? `By${capital(part.slice(1, -1))}` : capital(part)));
  return route.method.toLowerCase() + words.join('');
}

const capital = (word: string) => word.charAt(0).toUpperCase() + word.slice(1);

function security(access: Access): Array<Record<string, string[]>> {
  if (access === 'public') return [];
  if (access === 'billing-secret') return [{ billingSecret: [] }];
  return [{ apiKey: [] }];
}

function accessNote(access: Access): string {
  if (access === 'public') return 'Public: no key.';
  if (access === 'billing-secret') return 'Needs the `x-billing-secret` header (BILLING_SECRET); off (404) when unset.';
  return `Key roles: ${ROLES_BY_ACCESS[access].join(', ')}.`;
}

const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });

function responses(route: RouteSpec): JsonSchema {
  const success: JsonSchema = { description: 'Success.' };
  if (route.produces === 'text/html') success.content = { 'text/html': { schema: { type: 'string' } } };
  else if (route.produces === 'text/plain') success.content = { 'text/plain': { schema: { type: 'string' } } };
  else if (route.produces) success.content = { 'application/json': { schema: {} }, 'text/event-stream': { schema: { type: 'string' } } };
  else success.content = { 'application/json': { schema: {} } };
  const out: JsonSchema = { [String(route.status ?? 200)]: success };
  if (route.body || route.query) out['400'] = errorResponse('Bad input; `param` names the field.');
  if (route.access !== 'public') out['401'] = errorResponse('Missing or invalid credentials.');
  if (route.access === 'user' || route.access === 'admin' || route.access === 'admin-read') out['403'] = errorResponse("The key's role may not call this route, or its account is suspended.");
  if (route.path.includes(':')) out['404'] = errorResponse('Not found.');
  out.default = errorResponse('Any other error, in OpenAI\'s shape.');
  return out;
}

function clean(schema: JsonSchema): JsonSchema {
  const { $schema: _schema, $id: _id, ...rest } = schema;
  return rest;
}

export function buildOpenApiDocument(routes: readonly RouteSpec[], version: string): OpenApiDocument {
  const registry = z.registry<{ id: string }>();
  const names = new Map<RouteSpec, { body?: string; query?: string }>();
  const seen = new Map<z.ZodType, string>();
  const nameFor = (schema: z.ZodType, name: string): string => {
    const existing = seen.get(schema);
    if (existing) return existing; // one schema used by two routes: one component
    seen.set(schema, name);
    registry.add(schema, { id: name });
    return name;
  };
  for (const route of routes) {
    const id = capital(operationId(route));
    names.set(route, {
      ...(route.body && { body: nameFor(route.body, `${id}Body`) }),
      ...(route.query && { query: nameFor(route.query, `${id}Query`) }),
    });
  }
  const generated = z.toJSONSchema(registry, { io: 'input', unrepresentable: 'any', uri: (id) => `#/components/schemas/${id}` }).schemas as Record<string, JsonSchema>;
  const schemas: Record<string, JsonSchema> = {
    Error: {
      type: 'object',
      required: ['error'],
      properties: {
        error: {
          type: 'object',
          required: ['message', 'type', 'code', 'param'],
          properties: { message: { type: 'string' }, type: { type: 'string' }, code: { type: ['string', 'null'] }, param: { type: ['string', 'null'] } },
        },
      },
    },
  };
  for (const [name, schema] of Object.entries(generated)) schemas[name] = clean(schema);

  const paths: OpenApiDocument['paths'] = {};
  for (const route of routes) {
    const path = openApiPath(route.path);
    const named = names.get(route)!;
    const parameters: JsonSchema[] = [...path.matchAll(/\{([^}]+)\}/g)].map((match) => ({ name: match[1], in: 'path', required: true, schema: { type: 'string' } }));
    if (named.query) {
      const query = schemas[named.query]!;
      const required = new Set((query.required as string[] | undefined) ?? []);
      for (const [name, schema] of Object.entries((query.properties as Record<string, JsonSchema> | undefined) ?? {})) {
        parameters.push({ name, in: 'query', required: required.has(name), schema });
      }
    }
    const operation: JsonSchema = {
      operationId: operationId(route),
      summary: route.summary,
      description: accessNote(route.access),
      tags: [tagOf(route)],
      security: security(route.access),
      'x-tokengate-access': route.access,
      ...(parameters.length > 0 && { parameters }),
      ...(named.body && { requestBody: { required: true, content: { 'application/json': { schema: { $ref: `#/components/schemas/${named.body}` } } } } }),
      responses: responses(route),
    };
    (paths[path] ??= {})[route.method.toLowerCase()] = operation;
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'tokengate',
      version,
      description: 'LLM gateway that meters tokens inline and bills prepaid accounts. Errors use OpenAI\'s shape: {"error":{"message","type","code","param"}}.',
    },
    paths,
    components: {
      schemas,
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'A tokengate key: `Authorization: Bearer tg-...`.' },
        billingSecret: { type: 'apiKey', in: 'header', name: 'x-billing-secret' },
      },
    },
    tags: Object.entries(TAGS).map(([name, description]) => ({ name, description })),
  };
}
