/**
 * Admin routes are declared as data: method, path, who may call, and a handler that sees a
 * small typed request instead of express's. The same list mounts the router and writes
 * `GET /v1/openapi.json`, so the description cannot drift from what is served.
 */
import type { Request } from 'express';
import { GatewayError } from '../../errors';
import type { AdminRole, Principal } from '../../identity/types';

/**
 * `any` = every admin role; `decide` = owners and approvers (approval decisions); `owner` =
 * owners only; `agent` = an agent or session token.
 */
export type Access = 'none' | 'any' | 'decide' | 'owner' | 'agent';

export interface RouteRequest {
  params: Record<string, string>;
  query: Record<string, string | undefined>;
  body: unknown;
  principal: Principal | undefined;
  header(name: string): string | undefined;
}

export interface RouteAnswer {
  status?: number;
  body?: unknown;
  /** Sent as text with this content type instead of JSON. */
  contentType?: string;
}

export interface RouteSpec {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Express path, e.g. `/v1/vaults/:vault`. */
  path: string;
  access: Access;
  summary: string;
  /** Request body fields for the OpenAPI document (name → description). */
  body?: Record<string, string>;
  /** Status of a successful answer (200 by default). */
  status?: number;
  handle(req: RouteRequest): Promise<RouteAnswer>;
}

export const ROLES_FOR: Record<Exclude<Access, 'none' | 'agent'>, readonly AdminRole[]> = {
  any: ['owner', 'approver', 'auditor'],
  decide: ['owner', 'approver'],
  owner: ['owner'],
};

export function toRouteRequest(req: Request, principal: Principal | undefined): RouteRequest {
  const query: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.query))
    query[name] = typeof value === 'string' ? value : undefined;
  return {
    params: req.params as Record<string, string>,
    query,
    body: req.body,
    principal,
    header: (name) => req.get(name),
  };
}

/** The JSON body as an object, or a 400 naming what is wrong. */
export function bodyObject(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new GatewayError('VEC_REQUEST_INVALID', 'The request body must be a JSON object.', {
      context: { field: 'body' },
    });
  }
  return body as Record<string, unknown>;
}

export function stringField(body: Record<string, unknown>, field: string, required: true): string;
export function stringField(
  body: Record<string, unknown>,
  field: string,
  required?: false,
): string | undefined;
export function stringField(
  body: Record<string, unknown>,
  field: string,
  required = false,
): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) {
    if (required)
      throw new GatewayError('VEC_REQUEST_INVALID', `\`${field}\` is required.`, {
        context: { field },
      });
    return undefined;
  }
  if (typeof value !== 'string') {
    throw new GatewayError('VEC_REQUEST_INVALID', `\`${field}\` must be a string.`, {
      context: { field },
    });
  }
  return value;
}

export function optionalField<T>(
  body: Record<string, unknown>,
  field: string,
  type: 'boolean' | 'number' | 'object',
): T | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  const ok =
    type === 'object' ? typeof value === 'object' && !Array.isArray(value) : typeof value === type;
  if (!ok)
    throw new GatewayError('VEC_REQUEST_INVALID', `\`${field}\` must be a ${type}.`, {
      context: { field },
    });
  return value as T;
}

export function stringList(body: Record<string, unknown>, field: string): string[] | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw new GatewayError('VEC_REQUEST_INVALID', `\`${field}\` must be a list of strings.`, {
      context: { field },
    });
  }
  return value as string[];
}

/** A `GET` any admin role may call; it answers `{ [key]: <what read returns> }`. */
export function readRoute(
  path: string,
  summary: string,
  key: string,
  read: (req: RouteRequest) => Promise<unknown>,
): RouteSpec {
  return {
    method: 'get',
    path,
    access: 'any',
    summary,
    handle: async (req) => ({ body: { [key]: await read(req) } }),
  };
}

/** An owner-only call with no body that answers `{ [key]: <what change returns> }`. */
export function changeRoute(
  method: 'put' | 'post' | 'delete',
  path: string,
  summary: string,
  key: string,
  change: (params: Record<string, string>) => Promise<unknown>,
): RouteSpec {
  return {
    method,
    path,
    access: 'owner',
    summary,
    handle: async (req) => ({ body: { [key]: await change(req.params) } }),
  };
}

/** An owner-only `DELETE` that answers 204 with no body. */
export function deleteRoute(
  path: string,
  summary: string,
  remove: (params: Record<string, string>) => Promise<unknown>,
): RouteSpec {
  return {
    method: 'delete',
    path,
    access: 'owner',
    summary,
    status: 204,
    handle: async (req) => {
      await remove(req.params);
      return { status: 204 };
    },
  };
}

/** An owner-only call whose JSON body `write` reads; it answers what `write` returns. */
export function writeRoute(
  spec: Pick<RouteSpec, 'path' | 'summary' | 'status' | 'body'> & {
    method: 'post' | 'put' | 'patch';
  },
  write: (body: Record<string, unknown>, req: RouteRequest) => Promise<unknown>,
): RouteSpec {
  return {
    ...spec,
    access: 'owner',
    handle: async (req) => ({ status: spec.status, body: await write(bodyObject(req.body), req) }),
  };
}
