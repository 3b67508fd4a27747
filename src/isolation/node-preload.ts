/**
 * The preload `vectra run` adds to the child's NODE_OPTIONS, so Node's fetch and its http/https
 * modules use the proxy on every Node version (preload/node-proxy.js says how).
 */
import { join } from 'node:path';

/**
 * preload/node-proxy.js at the package root: plain JavaScript, shipped as it is. This file sits
 * in src/isolation/ (ts-node, jest) or dist/isolation/ (the built CLI), two folders below the
 * root either way.
 */
export const NODE_PRELOAD_FILE = join(__dirname, '..', '..', 'preload', 'node-proxy.js');

/** `--require "<file>"`, quoted as NODE_OPTIONS reads it: inside quotes, `\` escapes. */
export function requireOption(file: string): string {
  return `--require "${file.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** The user's NODE_OPTIONS with the preload in front of them (once, however often nested). */
export function nodeOptionsWithPreload(existing: string | undefined, file: string): string {
  const option = requireOption(file);
  const rest = existing?.trim() ?? '';
  if (rest === option || rest.startsWith(`${option} `)) return rest;
  return rest ? `${option} ${rest}` : option;
}
