/** The upstream client's failures as GatewayErrors: Node's socket and TLS errors mapped to codes. */
import type { ProxyConfig } from '../config/schema';
import { GatewayError, isGatewayError } from '../errors';
import type { ProxyRequest } from '../http/types';
import { CA_FILE_KEY } from './upstream-agents';

const CERT_ERROR =
  /^(CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_TLS_CERT_ALTNAME_INVALID|HOSTNAME_MISMATCH|INVALID_CA|INVALID_PURPOSE|PATH_LENGTH_EXCEEDED)/;
const MALFORMED = new Set([
  'ERR_INVALID_CHAR',
  'ERR_INVALID_HTTP_TOKEN',
  'ERR_UNESCAPED_CHARACTERS',
]);

export function toGatewayError(
  error: unknown,
  request: ProxyRequest,
  bodyError?: unknown,
): GatewayError {
  if (isGatewayError(error)) return error;
  if (bodyError !== undefined && !isGatewayError(bodyError)) {
    return new GatewayError(
      'VEC_REQUEST_MALFORMED',
      'the request body ended early (client aborted)',
      {
        cause: bodyError,
      },
    );
  }
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? 'error';
  const where = `${request.host}:${request.port}`;
  if (CERT_ERROR.test(code)) {
    return new GatewayError(
      'VEC_UPSTREAM_TLS_INVALID',
      `the TLS certificate of ${where} did not verify (${code}); Vectra never turns verification off: add the issuing CA to ${CA_FILE_KEY} if it is yours.`,
      { cause: error },
    );
  }
  if (MALFORMED.has(code)) {
    return new GatewayError('VEC_REQUEST_MALFORMED', `the request cannot be sent as is (${code})`, {
      cause: error,
    });
  }
  return unreachable(request, `could not reach ${where} (${code})`, error);
}

export function unreachable(request: ProxyRequest, message: string, cause?: unknown): GatewayError {
  return new GatewayError('VEC_UPSTREAM_UNREACHABLE', message, {
    cause,
    context: { host: request.host },
  });
}

export function timedOut(request: ProxyRequest, proxy: ProxyConfig): GatewayError {
  return new GatewayError(
    'VEC_UPSTREAM_TIMEOUT',
    `${request.host}:${request.port} did not answer within ${proxy.UpstreamTimeoutSeconds} s (System.Proxy.UpstreamTimeoutSeconds).`,
  );
}

export function requestTooLarge(max: number): GatewayError {
  return new GatewayError(
    'VEC_REQUEST_TOO_LARGE',
    `The request body exceeds ${max} bytes (System.Proxy.MaxRequestBodyBytes).`,
  );
}

export function responseTooLarge(proxy: ProxyConfig): GatewayError {
  return new GatewayError(
    'VEC_RESPONSE_TOO_LARGE',
    `The upstream response exceeds ${proxy.MaxResponseBodyBytes} bytes (System.Proxy.MaxResponseBodyBytes); it was cut off.`,
  );
}
