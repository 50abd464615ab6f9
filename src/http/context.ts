// The Hono environment: one bag of services (deps) plus what middleware learns about the request.
import type { Deps } from '../deps.js';
import type { ApiKeyRow } from '../accounts/api-keys.js';

export interface AuthContext {
  key: Pick<ApiKeyRow, 'id' | 'accountId' | 'role' | 'name' | 'rpm' | 'tpm' | 'budgetTokens' | 'models' | 'expiresAt'>;
  accountId: string;
}

export interface AppEnv {
  Variables: {
    deps: Deps;
    requestId: string;
    auth: AuthContext;
    /** performance.now() when the request arrived: the start of the gateway overhead metric. */
    receivedAt: number;
  };
}
