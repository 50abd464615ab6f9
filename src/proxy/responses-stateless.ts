// Responses of providers that serve the Responses API statelessly (Gemini) are never stored: an id of
// one names nothing that can be read, deleted or continued. Such ids are recognisable, so the answer
// is a 400 saying why, where an id the gateway never saw is a 404.
import type { Deps } from '../deps.js';
import { badRequest } from '../http/errors.js';

/** Throws the 400 when `responseId` is a stateless provider's; returns otherwise. */
export function refuseUnstored(deps: Deps, responseId: string, param: string | null): void {
  for (const provider of deps.providers.values()) {
    if (provider.statelessResponses?.ownsResponseId(responseId)) {
      throw badRequest(
        `Response '${responseId}' was made by a ${provider.name} model, and ${provider.name} responses are not stored by this gateway: they cannot be retrieved, deleted or continued. Send the whole conversation in 'input' instead.`,
        param,
        'response_not_stored',
      );
    }
  }
}
