// Whether the client of a metered call is still there. On Node's HTTP server this is the response's
// own `close` event (no AbortController or signal per request); elsewhere (app.fetch without Node)
// the request's AbortSignal.
import type { ServerResponse } from 'node:http';

export interface ClientConnection {
  /** The client left before its answer was complete. */
  readonly gone: boolean;
  /** Calls `listener` once when the client leaves; returns the function that stops listening. */
  onGone(listener: () => void): () => void;
  /** The Node response, when there is one: streams are written to it directly. */
  readonly outgoing: ServerResponse | null;
}

/** The client is gone when the response closes before it finished (node-server's own rule). */
export function connectionOf(outgoing: ServerResponse): ClientConnection {
  const left = () => outgoing.destroyed && !outgoing.writableFinished;
  return {
    get gone() {
      return left();
    },
    onGone(listener) {
      const onClose = () => {
        if (!outgoing.writableFinished) listener();
      };
      outgoing.once('close', onClose);
      return () => outgoing.off('close', onClose);
    },
    outgoing,
  };
}

export function connectionOfSignal(signal: AbortSignal): ClientConnection {
  return {
    get gone() {
      return signal.aborted;
    },
    onGone(listener) {
      signal.addEventListener('abort', listener, { once: true });
      return () => signal.removeEventListener('abort', listener);
    },
    outgoing: null,
  };
}
