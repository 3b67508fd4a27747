/**
 * The gateway the tracing suites share: one policy that denies paths under /forbidden, vault
 * `shop` with an HTTP and an HTTPS service of the test upstream (bearer credential `KEY`), and
 * agent `bot`. `env` switches tracing on or off and points it at a receiver.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Gateway } from '../../src/gateway';
import { startTestGateway } from './gateway';
import { policyDocument, rule, when } from './policy-documents';
import { tempDir } from './temp-dir';
import type { TestUpstream } from './upstream';

export const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
export const AGENT_SPAN = '00f067aa0ba902b7';
/** OTLP span kinds and status codes, as the receiver decodes them. */
export const SERVER = 2;

const POLICY = policyDocument('tracing', 'Allow', [
  rule('no-forbidden', 'Deny', 'Nothing under /forbidden', [
    when('path', 'startsWith', '/forbidden'),
  ]),
]);

export interface TracedGateway {
  gateway: Gateway;
  token: string;
  proxyPort: number;
  ca: string;
}

export async function startTracedGateway(
  upstream: TestUpstream,
  env: NodeJS.ProcessEnv,
  options: { credential: string; shopUnmatched?: 'passthrough'; otherVaults?: string[] },
): Promise<TracedGateway> {
  const policies = tempDir('vectra-tracing-policies-');
  writeFileSync(join(policies, 'tracing.json'), JSON.stringify(POLICY));
  const gateway = await startTestGateway({
    System__Proxy__UpstreamCaFile: upstream.caFile,
    System__Proxy__NetworkAllowlist: '127.0.0.0/8,::1/128',
    Policy__Providers__Internal__Directory: policies,
    ...env,
  });
  await gateway.vaults.createVault({ name: 'shop', unmatchedHosts: options.shopUnmatched });
  for (const name of options.otherVaults ?? []) await gateway.vaults.createVault({ name });
  await gateway.vaults.setCredential('shop', 'KEY', options.credential);
  const auth = { type: 'bearer' as const, credential: 'KEY' };
  await gateway.vaults.createService('shop', {
    name: 'plain',
    host: `localhost:${upstream.httpPort}`,
    scheme: 'http',
    auth,
  });
  await gateway.vaults.createService('shop', {
    name: 'secure',
    host: `localhost:${upstream.httpsPort}`,
    auth,
  });
  const vaults = ['shop', ...(options.otherVaults ?? [])];
  const { token } = await gateway.identity.createAgent({ name: 'bot', vaults });
  const ca = await (await fetch(`${gateway.urls.http}/v1/ca.pem`)).text();
  return { gateway, token, proxyPort: Number(new URL(gateway.urls.proxy).port), ca };
}
