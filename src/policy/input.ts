/**
 * Builds PolicyInput, the one document both providers judge: from a RequestContext in the
 * pipeline, or from a described request in a dry run (`vectra policy test`,
 * `POST /v1/policy/evaluate`), so that a dry run sees exactly what the gateway would.
 */
import { BoundedMemo } from '../bounded-memo';
import { GatewayError, isGatewayError } from '../errors';
import { parseAbsoluteForm, type AbsoluteTarget } from '../http/request-target';
import type { AgentPrincipal } from '../identity/agent-auth';
import { isSecretKey, REDACTED } from '../observability/redact';
import type { HeaderMap } from '../http/types';
import type { PolicyInput, UnreadableBody } from './types';

/** What the stage (or a dry run) learnt about the body. */
export interface BodyInfo {
  /** Bytes; null when unknown. */
  size: number | null;
  /** The parsed JSON body, when there is one within the limit. */
  json?: unknown;
  /** Why a body that was read for could not be judged (PolicyInput's `bodyUnreadable`). */
  unreadable?: UnreadableBody;
}

export interface InputParts {
  agent: PolicyInput['agent'];
  vault: string | null;
  method: string;
  scheme: 'http' | 'https';
  host: string;
  port: number;
  /**
   * Path and query as sent (`/v1/x?a=1`), already canonical (src/http/request-target.ts): the
   * policies judge exactly the path that goes upstream.
   */
  target: string;
  headers: HeaderMap;
  body: BodyInfo;
  service: string | null;
  /** Milliseconds since the epoch. */
  now: number;
}

const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
/** Credential headers the name test below would miss. */
const CREDENTIAL_HEADERS = new Set(['x-amz-security-token', 'x-goog-iam-authority-selector']);

export function buildPolicyInput(parts: InputParts): PolicyInput {
  const query = parts.target.indexOf('?');
  const path = query < 0 ? parts.target : parts.target.slice(0, query);
  const search = query < 0 ? '' : parts.target.slice(query + 1);
  const time = new Date(parts.now);
  const request: PolicyInput['request'] = {
    method: parts.method.toUpperCase(),
    scheme: parts.scheme,
    host: parts.host.toLowerCase().replace(/\.$/, ''),
    port: parts.port,
    path,
    query: queryOf(search),
    headers: policyHeaders(parts.headers),
    bodySize: parts.body.size,
  };
  if (parts.body.json !== undefined) request.body = parts.body.json;
  if (parts.body.unreadable !== undefined) request.bodyUnreadable = parts.body.unreadable;
  return {
    agent: parts.agent,
    vault: parts.vault,
    request,
    service: parts.service === null ? null : { name: parts.service },
    time: { hour: time.getUTCHours(), weekday: WEEKDAYS[time.getUTCDay()] },
  };
}

export function agentOf(principal: AgentPrincipal | undefined): PolicyInput['agent'] {
  if (principal?.kind === 'agent') return { name: principal.agentName, id: principal.agentId };
  return { name: principal?.agentName ?? null, id: null };
}

/** A request described by its URL, as `vectra policy test` and /v1/policy/evaluate take it. */
export interface DescribedRequest {
  agent: string;
  agentId?: string;
  vault: string;
  method: string;
  url: string;
  headers?: Record<string, string>;
  body: BodyInfo;
  service?: string | null;
  now: number;
}

export function describedRequestInput(described: DescribedRequest): PolicyInput {
  const method = described.method.trim();
  if (!/^[A-Za-z]{1,20}$/.test(method)) {
    throw invalid('method', `"${described.method}" is not an HTTP method`);
  }
  const target = describedTarget(described.url);
  const headers: HeaderMap = {};
  for (const [name, value] of Object.entries(described.headers ?? {})) {
    headers[name.toLowerCase()] = value;
  }
  return buildPolicyInput({
    agent: { name: described.agent, id: described.agentId ?? null },
    vault: described.vault,
    method,
    scheme: target.scheme,
    host: target.host,
    port: target.port,
    target: `${target.path}${target.query}`,
    headers,
    body: described.body,
    service: described.service ?? null,
    now: described.now,
  });
}

/** Lower-case names, repeated values joined, credential values replaced by `[REDACTED]`. */
export function policyHeaders(headers: HeaderMap): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [rawName, value] of Object.entries(headers)) {
    const name = rawName.toLowerCase();
    if (name === '__proto__') continue;
    const text = Array.isArray(value) ? value.join(', ') : value;
    result[name] = isCredentialHeader(name) ? REDACTED : text;
  }
  return result;
}

/** Whether a header's value is a credential, memoised by name (the same few names recur). */
const credentialHeaderNames = new BoundedMemo<string, boolean>(1024);
function isCredentialHeader(name: string): boolean {
  return credentialHeaderNames.get(name, (n) => isSecretKey(n) || CREDENTIAL_HEADERS.has(n));
}

function queryOf(search: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  if (search === '') return query;
  for (const [key, value] of new URLSearchParams(search)) {
    if (key === '__proto__') continue; // would replace the object's prototype
    // Own properties only: `?constructor=1` must not find Object's.
    const seen = Object.hasOwn(query, key) ? query[key] : undefined;
    if (seen === undefined) query[key] = value;
    else if (Array.isArray(seen)) seen.push(value);
    else query[key] = [seen, value];
  }
  return query;
}

/**
 * The canonical target of a described URL, as the gateway would parse it from a client that
 * sent it: the fragment, which clients keep to themselves, dropped.
 */
export function describedTarget(url: string): AbsoluteTarget {
  let target: AbsoluteTarget | undefined;
  try {
    target = parseAbsoluteForm(url.split('#', 1)[0]);
  } catch (err) {
    if (!isGatewayError(err)) throw err;
    throw invalid('url', `"${url}" is not a valid URL: ${err.message.replace(/\.$/, '')}`);
  }
  if (!target) throw invalid('url', `"${url}" is not an absolute URL (https://host/path)`);
  return target;
}

function invalid(field: string, message: string): GatewayError {
  return new GatewayError('VEC_REQUEST_INVALID', `${message}.`, { context: { field } });
}
