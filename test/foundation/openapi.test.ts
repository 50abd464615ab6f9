// /openapi.json covers every registered route with an OpenAPI 3.1 document whose references resolve,
// built from the zod schemas the handlers validate with; /docs renders it as a self-contained page.
import { describe, expect, it } from 'vitest';
import { useTestGateway } from '../helpers/harness.js';

const env = useTestGateway();

const openApiPath = (honoPath: string) => honoPath.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, '{$1}');

function refsIn(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) refsIn(item, found);
  else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (key === '$ref' && typeof item === 'string') found.push(item);
      else refsIn(item, found);
    }
  }
  return found;
}

describe('GET /openapi.json', () => {
  it('is public, an OpenAPI 3.1 document, and lists every registered route with its method', async () => {
    const response = await env.gw.request('GET', '/openapi.json');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('application/json');
    const doc = response.body;
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toMatchObject({ title: 'tokengate', version: expect.any(String) });
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['apiKey', 'billingSecret']);
    expect(doc.components.schemas.Error).toBeDefined();

    const missing: string[] = [];
    for (const route of env.gw.gateway.app.routes) {
      if (route.method === 'ALL') continue;
      if (!doc.paths[openApiPath(route.path)]?.[route.method.toLowerCase()]) missing.push(`${route.method} ${route.path}`);
    }
    expect(missing).toEqual([]);

    const ids: string[] = [];
    for (const [path, methods] of Object.entries<Record<string, Record<string, unknown>>>(doc.paths)) {
      expect(path.startsWith('/')).toBe(true);
      expect(path).not.toMatch(/:/); // OpenAPI templates, not Hono patterns
      for (const [method, operation] of Object.entries(methods)) {
        expect(['get', 'post', 'patch', 'delete']).toContain(method);
        expect(operation).toMatchObject({ operationId: expect.any(String), summary: expect.any(String), responses: expect.any(Object) });
        ids.push(operation.operationId as string);
        // Each {param} of the path is declared as a required path parameter.
        const declared = ((operation.parameters ?? []) as Array<{ name: string; in: string; required: boolean }>).filter((p) => p.in === 'path');
        expect(declared.map((p) => p.name).sort()).toEqual([...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort());
        expect(declared.every((p) => p.required)).toBe(true);
      }
    }
    expect(new Set(ids).size).toBe(ids.length);
    // Every reference points into components.
    for (const ref of refsIn(doc)) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(doc.components.schemas[ref.split('/').at(-1)!], ref).toBeDefined();
    }
  });

  it('request schemas come from the routes: bodies, query parameters, security by access', async () => {
    const doc = (await env.gw.request('GET', '/openapi.json')).body;
    const patchSettings = doc.paths['/admin/settings'].patch;
    expect(patchSettings.security).toEqual([{ apiKey: [] }]);
    expect(patchSettings['x-tokengate-access']).toBe('admin');
    const body = doc.components.schemas[patchSettings.requestBody.content['application/json'].schema.$ref.split('/').at(-1)];
    expect(body.properties.reservationPolicy.enum).toEqual(['clamp', 'reject']);
    expect(body.additionalProperties).toBe(false); // unknown fields are refused, and the document says so

    const listAccounts = doc.paths['/admin/accounts'].get;
    expect(listAccounts['x-tokengate-access']).toBe('admin-read');
    expect(listAccounts.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['q', 'status', 'limit', 'cursor']));
    expect(listAccounts.parameters.find((p: { name: string }) => p.name === 'limit').schema).toMatchObject({ type: 'integer', maximum: 200 });

    const chat = doc.components.schemas[doc.paths['/v1/chat/completions'].post.requestBody.content['application/json'].schema.$ref.split('/').at(-1)];
    expect(chat.required).toEqual(expect.arrayContaining(['model', 'messages']));

    expect(doc.paths['/healthz'].get.security).toEqual([]);
    expect(doc.paths['/internal/usage'].post.security).toEqual([{ billingSecret: [] }]);
    expect(doc.paths['/v1/models/{id}'].get.parameters[0]).toMatchObject({ name: 'id', in: 'path' });
  });
});

describe('GET /docs', () => {
  it('is a self-contained HTML reference of every route (no script, nothing loaded from elsewhere)', async () => {
    const response = await env.gw.request('GET', '/docs');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    const html = response.body as string;
    const doc = (await env.gw.request('GET', '/openapi.json')).body;
    for (const path of Object.keys(doc.paths)) expect(html).toContain(`<code>${path.replaceAll("'", '&#39;')}</code>`);
    expect(html).not.toMatch(/<script|<link|src=|https?:\/\//i);
    expect(html).toContain('reservationPolicy');
  });
});
