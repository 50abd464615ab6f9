// Error logs never carry a failed statement's values (issue 7, item 12): drizzle puts the parameters of
// a failed query (for api_keys: the key's hash and prefix) into the error's message and fields.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createApiKey, displayPrefix, generateApiKey, hashApiKey } from '../../src/accounts/api-keys.js';
import { createLogger } from '../../src/log.js';
import { accountWithBalance } from '../helpers/factories.js';
import { useTestGateway } from '../helpers/harness.js';

const lines: string[] = [];
const t = useTestGateway({ onLogLine: (line) => lines.push(line) });

const SHA256_HEX = /[0-9a-f]{64}/;
const KEY_PREFIX = /tg-[A-Za-z0-9_-]{7}…/;

function expectNoStatementValues(line: string): void {
  expect(line).not.toMatch(SHA256_HEX);
  expect(line).not.toMatch(KEY_PREFIX);
  expect(line).not.toMatch(/params: (?!\[redacted\])/);
}

describe('a failed api_keys insert', () => {
  it('through HTTP: the request is a 400 and its log lines name the statement but none of its values', async () => {
    const account = await accountWithBalance(t.gw, 0);
    lines.length = 0;
    const requests = [
      { name: 'nul\u0000name' }, // text with NUL: SQLSTATE 22021
      { name: 'fast', rpm: 1e12 }, // over the 32-bit column: SQLSTATE 22003
    ];
    const ids: string[] = [];
    for (const body of requests) {
      const response = await t.gw.request('POST', `/admin/accounts/${account.id}/keys`, { key: t.gw.adminKey, body });
      expect(response.status).toBe(400);
      ids.push(response.headers.get('x-request-id')!);
    }
    const logged = lines.filter((line) => ids.some((id) => line.includes(id)));
    expect(logged.length).toBeGreaterThan(0);
    for (const line of logged) expectNoStatementValues(line);
    expect(logged.some((line) => line.includes('insert into \\"api_keys\\"') && line.includes('params: [redacted]'))).toBe(true);
  });

  it('logged by any code path: the message, the fields and the cause keep the query text, never the values', async () => {
    const secret = generateApiKey();
    // A key for an account that does not exist: a foreign-key violation, whose detail quotes the value too.
    const error = await createApiKey(t.gw.gateway.deps.db, { accountId: 'acct_missing_xyz', name: 'orphan' }, secret).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    const written: string[] = [];
    const log = createLogger('info', new Writable({ write: (chunk: Buffer, _encoding, done) => (written.push(chunk.toString()), done()) }));
    log.error({ err: error }, 'as a field');
    log.error(error as Error);
    log.warn({ error }, 'under another name');
    expect(written).toHaveLength(3);
    for (const line of written) {
      expect(line).not.toContain(hashApiKey(secret));
      expect(line).not.toContain(displayPrefix(secret));
      expect(line).not.toContain('acct_missing_xyz');
      expectNoStatementValues(line);
      expect(line).toContain('insert into \\"api_keys\\"');
      expect(line).toContain('23503');
    }
  });
});
