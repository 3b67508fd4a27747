/**
 * The one way an entry adapter (forward proxy, MITM tunnel, `/proxy/<url>` route) builds the
 * RequestContext the pipeline runs on. Everything a stage fills in later starts empty here.
 */
import { currentRequestId, newRequestId } from '../observability/request-context';
import { RequestCancellation } from '../http/cancellation';
import type { EntryPoint, RequestContext } from './types';
import type { ProxyRequest } from '../http/types';

export interface RequestContextInit {
  entry: EntryPoint;
  clientAddress: string;
  /** What the adapter read from the client (Proxy-Authorization, or Authorization + X-Vault). */
  credentials: { token?: string; vault?: string };
  request: ProxyRequest;
  /** Required for `tunnel`: the CONNECT authority (`host:port`). Without it resolveService refuses. */
  tunnelAuthority?: string;
  /** Defaults to the id of the current log scope, else a fresh one. */
  requestId?: string;
  now?: () => number;
}

export function createRequestContext(init: RequestContextInit): RequestContext {
  const now = init.now ?? Date.now;
  return {
    requestId: init.requestId ?? currentRequestId() ?? newRequestId(),
    entry: init.entry,
    startedAt: now(),
    clientAddress: init.clientAddress,
    // A copy: `authenticate` clears it, and the adapter's object may be shared by a tunnel.
    credentials: { token: init.credentials.token, vault: init.credentials.vault },
    ...(init.tunnelAuthority === undefined ? {} : { tunnelAuthority: init.tunnelAuthority }),
    request: init.request,
    injectedSecrets: [],
    audit: {},
    cancellation: new RequestCancellation(),
  };
}
