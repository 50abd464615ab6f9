// Factories named for intent: accountWithBalance(gw, 1000), keyFor(gw, account, 'admin').
import { randomUUID } from 'node:crypto';
import type { TestGateway } from './harness.js';

export interface TestAccount {
  id: string;
  name: string;
  balance: number;
}

export async function accountWithBalance(gw: TestGateway, balanceTokens: number, name = `acct ${randomUUID().slice(0, 6)}`): Promise<TestAccount> {
  const response = await gw.request('POST', '/admin/accounts', { key: gw.adminKey, body: { name, grant: balanceTokens } });
  if (response.status !== 201) throw new Error(`could not create account: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body as TestAccount;
}

export async function keyFor(
  gw: TestGateway,
  account: { id: string },
  role: 'user' | 'admin' | 'auditor' = 'user',
  extra: Record<string, unknown> = {},
): Promise<string> {
  const response = await gw.request('POST', `/admin/accounts/${account.id}/keys`, { key: gw.adminKey, body: { name: `${role} key`, role, ...extra } });
  if (response.status !== 201) throw new Error(`could not create key: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body.key as string;
}
