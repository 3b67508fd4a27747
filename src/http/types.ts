/**
 * A request and its answer as every layer above sees them: the entry adapters build a
 * ProxyRequest, the stages read and change it, the upstream client sends it and hands back an
 * UpstreamResponse or, for an Upgrade, an UpstreamUpgrade. No Node `req`/`res` here.
 */
import type { Readable, Duplex } from 'node:stream';

/** Header map with lower-case names, as sent upstream (mutable by stages before `forward`). */
export type HeaderMap = Record<string, string | string[]>;

export interface ProxyRequest {
  method: string;
  scheme: 'http' | 'https';
  /** Lower-case host name or IP literal (IPv6 without brackets). */
  host: string;
  port: number;
  /**
   * Path and query, as it will be sent upstream (`/v1/x?a=1`): the canonical target the entry
   * adapter parsed (src/http/request-target.ts), which the policy input and audit row also use.
   */
  path: string;
  headers: HeaderMap;
  /** The request body, streamed; undefined when there is none. */
  body?: Readable;
  /** Declared body size, when the client sent Content-Length. */
  contentLength?: number;
  /** True for a WebSocket (or other) Upgrade request. */
  upgrade: boolean;
}

export interface UpstreamResponse {
  status: number;
  statusMessage?: string;
  headers: HeaderMap;
  body: Readable;
  /**
   * The whole body when it was read before the response was handed on (`body` then yields
   * exactly these bytes). Writers send it in one go instead of piping `body`.
   */
  bytes?: Buffer;
}

/** A completed protocol upgrade: the adapter pipes the client socket and `socket` together. */
export interface UpstreamUpgrade {
  status: 101;
  headers: HeaderMap;
  socket: Duplex;
  head: Buffer;
}
