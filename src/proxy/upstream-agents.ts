/**
 * The upstream client's pooled agents. Keyed by scheme, host, port AND the checked address set,
 * so a pooled socket is only reused for the same origin at the same addresses (a rebinding answer
 * gets a new agent); each agent's `lookup` answers with those addresses and nothing else. HTTPS
 * agents always verify against the bundled roots plus System.Proxy.UpstreamCaFile.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { ConfigError } from '../errors';
import type { ProxyRequest } from '../http/types';

export const CA_FILE_KEY = 'System.Proxy.UpstreamCaFile';
/** Per origin and address set: enough for a busy agent, bounded against a runaway one. */
const MAX_SOCKETS = 256;
const MAX_FREE_SOCKETS = 64;
/** Pooled sockets idle this long are closed (Node also honours the server's Keep-Alive hint). */
const IDLE_SOCKET_MS = 30_000;

export interface AgentPool {
  /** The agent for `request`'s origin that dials only `addresses`. */
  agentFor(request: ProxyRequest, addresses: string[]): HttpAgent;
  /** Destroys every agent and its sockets. */
  close(): void;
}

export function createAgentPool(caFile: string): AgentPool {
  const secureContext = loadSecureContext(caFile);
  const agents = new Map<string, HttpAgent>();
  return {
    agentFor(request: ProxyRequest, addresses: string[]): HttpAgent {
      const key = `${request.scheme}://${request.host}:${request.port}@${addresses.join(',')}`;
      const existing = agents.get(key);
      if (existing) return existing;
      for (const [otherKey, agent] of agents) {
        if (isIdle(agent)) {
          agent.destroy();
          agents.delete(otherKey);
        }
      }
      const options = {
        keepAlive: true,
        maxSockets: MAX_SOCKETS,
        maxFreeSockets: MAX_FREE_SOCKETS,
        timeout: IDLE_SOCKET_MS,
        lookup: checkedLookup(addresses),
      };
      const agent =
        request.scheme === 'https'
          ? new HttpsAgent({ ...options, secureContext, rejectUnauthorized: true })
          : new HttpAgent(options);
      agents.set(key, agent);
      return agent;
    },
    close() {
      for (const agent of agents.values()) agent.destroy();
      agents.clear();
    },
  };
}

/** Bundled roots plus the PEMs of System.Proxy.UpstreamCaFile, built once for every agent. */
function loadSecureContext(caFile: string): SecureContext | undefined {
  // No extra CA: Node's default context (bundled roots, NODE_EXTRA_CA_CERTS) applies.
  if (!caFile) return undefined;
  let text: string;
  try {
    text = readFileSync(caFile, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw caProblem(caFile, `cannot be read (${code})`);
  }
  const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (pems.length === 0) throw caProblem(caFile, 'holds no PEM certificate');
  for (const pem of pems) {
    try {
      new X509Certificate(pem);
    } catch {
      throw caProblem(caFile, 'holds a certificate that does not parse');
    }
  }
  return createSecureContext({ ca: [...rootCertificates, ...pems] });
}

function caProblem(value: string, message: string): ConfigError {
  return new ConfigError([
    {
      key: CA_FILE_KEY,
      envVar: CA_FILE_KEY.replace(/\./g, '__'),
      source: 'configuration',
      value,
      message,
    },
  ]);
}

/** The agent's DNS: answers every name with the addresses the guard checked, nothing else. */
function checkedLookup(addresses: string[]): LookupFunction {
  const entries = addresses.map((address) => ({ address, family: isIP(address) }));
  return (_hostname, options, callback) => {
    if (options.all) callback(null, entries);
    else callback(null, entries[0].address, entries[0].family);
  };
}

function isIdle(agent: HttpAgent): boolean {
  return [agent.sockets, agent.freeSockets, agent.requests].every(
    (pool) => Object.keys(pool).length === 0,
  );
}
