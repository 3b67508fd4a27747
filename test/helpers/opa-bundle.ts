/**
 * OPA serving the Rego bundle in policies/opa, for the tests that compare it with the JSON
 * policies (test/integration/opa-bundle.test.ts).
 *
 * A real `opa` binary is used when there is one: VECTRA_OPA_BIN, or `opa` on PATH. It runs
 * `opa run --server` over policies/opa on loopback, without telemetry.
 *
 * Where there is none (no package that the project's machines can install, npm or Debian, ships
 * one), the bundle is played by a STAND-IN: a local HTTP server speaking OPA's Data API
 * (`POST /v1/data/vectra/authz` → `{"result": …}`, `{}` for any other path, `GET /health`),
 * whose decision below restates the Rego rule by rule. The stand-in checks the gateway's side
 * of the contract and that the logic the Rego spells out gives the JSON policies' decisions; it
 * does not check that OPA parses and evaluates the .rego files as written. `opaForBundle()`
 * says which one is running, and the tests print it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { PolicyInput } from '../../src/policy/types';
import { REPO_ROOT } from './gateway';
import { freePort, waitFor } from './waiting-and-processes';

export const BUNDLE_DIR = join(REPO_ROOT, 'policies', 'opa');
/** The data path the bundle answers at: Policy.Providers.Opa.Path's default. */
export const BUNDLE_PATH = 'vectra/authz';

export interface BundleOpa {
  /** `real` is the opa binary; `stand-in` the local server below. */
  kind: 'real' | 'stand-in';
  url: string;
  close(): Promise<void>;
}

/** The `opa` binary to use, or undefined when there is none. */
export function opaBinary(): string | undefined {
  const candidate = process.env.VECTRA_OPA_BIN || 'opa';
  const probe = spawnSync(candidate, ['version'], { stdio: 'ignore' });
  return probe.status === 0 ? candidate : undefined;
}

export async function opaForBundle(): Promise<BundleOpa> {
  const binary = opaBinary();
  return binary ? startRealOpa(binary) : startStandIn();
}

async function startRealOpa(binary: string): Promise<BundleOpa> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const args = ['run', '--server', '--disable-telemetry', '--log-level', 'error'];
  const child: ChildProcess = spawn(binary, [...args, '--addr', `127.0.0.1:${port}`, BUNDLE_DIR], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  await waitFor('opa run --server to answer /health', async () => {
    if (exited()) throw new Error(`opa run exited with ${child.exitCode}: ${stderr}`);
    return fetch(`${url}/health`).then(
      (res) => res.ok,
      () => false,
    );
  });
  return {
    kind: 'real',
    url,
    async close() {
      if (exited()) return;
      await new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGTERM');
      });
    },
  };
}

async function startStandIn(): Promise<BundleOpa> {
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      const reply = (status: number, body: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.method === 'GET' && req.url === '/health') {
        reply(200, {});
      } else if (req.method !== 'POST' || !req.url?.startsWith('/v1/data/')) {
        reply(404, { code: 'resource_not_found', message: 'not found' });
      } else if (req.url !== `/v1/data/${BUNDLE_PATH}`) {
        reply(200, {}); // an undefined document
      } else {
        answer(text, reply);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    kind: 'stand-in',
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** The decision query at data.vectra.authz: the bundle's document for the request's input. */
function answer(text: string, reply: (status: number, body: unknown) => void): void {
  try {
    const { input } = JSON.parse(text) as { input: PolicyInput };
    reply(200, { result: bundleDocument(input) });
  } catch (err) {
    reply(400, { code: 'invalid_parameter', message: (err as Error).message });
  }
}

// ---- The bundle restated: policies/opa/*.rego, rule by rule. ----

interface Outcome {
  policy?: string;
  effect: 'Allow' | 'Deny' | 'Hitl';
  reason: string;
  rule?: string;
  risk?: number;
}

/** Rego's `lower`: undefined (the rule body fails) for anything but a string. */
const lower = (value: unknown): string | undefined =>
  typeof value === 'string' ? value.toLowerCase() : undefined;

/** data.vectra.shipped.outcomes (shipped.rego). */
function shippedOutcomes(input: PolicyInput): Outcome[] {
  const path = lower(input.request?.path);
  const method = lower(input.request?.method);
  const host = lower(input.request?.host);

  const approvalForExports: Outcome =
    path !== undefined && path.includes('/export')
      ? {
          policy: 'approval-for-exports',
          effect: 'Hitl',
          rule: 'exports-need-approval',
          reason:
            'Policy approval-for-exports (rule exports-need-approval): Exports move data in bulk, so a human approves each one.',
          risk: 0.7,
        }
      : {
          policy: 'approval-for-exports',
          effect: 'Allow',
          reason: 'Policy approval-for-exports (no rule matched): its default is Allow.',
        };

  const deletes = method === 'delete' && host !== undefined;
  const noDestructiveVerbs: Outcome =
    deletes && /^[^/]*\.prod\.[^/]*$/.test(host)
      ? {
          policy: 'no-destructive-verbs-on-production',
          effect: 'Deny',
          rule: 'no-delete-on-prod-hosts',
          reason:
            'Policy no-destructive-verbs-on-production (rule no-delete-on-prod-hosts): DELETE is never allowed on production hosts.',
          risk: 1,
        }
      : deletes && /^[^/]*\.production\.[^/]*$/.test(host)
        ? {
            policy: 'no-destructive-verbs-on-production',
            effect: 'Deny',
            rule: 'no-delete-on-production-hosts',
            reason:
              'Policy no-destructive-verbs-on-production (rule no-delete-on-production-hosts): DELETE is never allowed on production hosts.',
            risk: 1,
          }
        : {
            policy: 'no-destructive-verbs-on-production',
            effect: 'Allow',
            reason:
              'Policy no-destructive-verbs-on-production (no rule matched): its default is Allow.',
          };

  const readOnlyByDefault: Outcome =
    method !== undefined && ['get', 'head', 'options'].includes(method)
      ? {
          policy: 'read-only-by-default',
          effect: 'Allow',
          rule: 'reads-are-allowed',
          reason:
            'Policy read-only-by-default (rule reads-are-allowed): Reading (GET, HEAD, OPTIONS) changes nothing.',
        }
      : {
          policy: 'read-only-by-default',
          effect: 'Hitl',
          reason:
            "Policy read-only-by-default (no rule matched): Requests that can change state need a human's approval.",
        };

  return [approvalForExports, noDestructiveVerbs, readOnlyByDefault];
}

const SEVERITY = { Allow: 0, Hitl: 1, Deny: 2 } as const;

/** data.vectra.authz (authz.rego over combined.rego). */
export function bundleDocument(input: PolicyInput): Record<string, unknown> {
  const applicable = shippedOutcomes(input);
  const risks = applicable.flatMap((o) => (o.risk === undefined ? [] : [o.risk]));
  const risk = risks.length > 0 ? Math.max(...risks) : undefined;
  let decision: Outcome;
  if (applicable.length > 0) {
    const rank = (o: Outcome) => 2 * SEVERITY[o.effect] + (o.rule ? 1 : 0);
    const top = Math.max(...applicable.map(rank));
    decision = applicable[applicable.findIndex((o) => rank(o) === top)];
  } else {
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
    const agent = str(input.agent?.name) ?? str(input.agent?.id) ?? '(unnamed)';
    const vault = str(input.vault) ?? '(none)';
    decision = {
      effect: 'Deny',
      reason: `No policy applies to agent ${agent} in vault ${vault}, and a request no policy covers is refused.`,
    };
  }
  return {
    effect: decision.effect,
    reason: decision.reason,
    ...(decision.policy === undefined ? {} : { policy: decision.policy }),
    ...(decision.rule === undefined ? {} : { rule: decision.rule }),
    ...(risk === undefined ? {} : { risk }),
  };
}
