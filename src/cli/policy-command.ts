/**
 * `vectra policy validate [DIR]` and `vectra policy test …`: policy dry runs. `validate` checks
 * every file of the policy directory (the configured one by default) and lists every problem;
 * `test` judges one described request and prints the decision, the policy and rule that made
 * it, each policy's part and the explanation. Nothing is ever sent upstream: `test` evaluates the
 * policy directory in this process, or, with --addr, asks a running gateway
 * (POST /v1/policy/evaluate), which uses whatever provider it runs (Internal or OPA).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Option } from 'commander';
import { loadConfig } from '../config/loader';
import { EXIT, GatewayError, type ErrorBody } from '../errors';
import { formatDryRun, targetOf, withRisk, type DryRunResult } from '../policy/dry-run';
import { evaluatePolicies, policySet } from '../policy/evaluate';
import { describedRequestInput } from '../policy/input';
import { bodyFromBytes } from '../policy/json-body';
import { judgeEveryReading } from '../policy/request-readings';
import { formatProblem, loadPolicyDirectory } from '../policy/policy-directory';
import { POLICY_EFFECTS, type PolicyTrace } from '../policy/types';
import { createInternalScorer } from '../semantic/internal-scorer';
import { ApiError, resolveAddress, resolveToken, UsageError } from '../client/api-client';
import { readLogin } from '../client/login-store';
import type { CommandContext, RegisterCommand } from './command-context';
import { usageAction } from './admin-cli';
import { commandGroup } from './command-group';

export interface PolicyCommandOptions {
  /** Replaces global fetch for --addr (tests). */
  fetch?: typeof fetch;
}

interface ValidateFlags {
  config?: string;
  json?: boolean;
}

interface TestFlags {
  agent: string;
  vault: string;
  method: string;
  url: string;
  body?: string;
  header: string[];
  service?: string;
  dir?: string;
  addr?: string;
  config?: string;
  json?: boolean;
  expect?: string;
}

export const registerPolicyCommand: RegisterCommand<PolicyCommandOptions> = (
  program,
  ctx,
  options = {},
) => {
  const policy = commandGroup(program, 'policy');

  policy
    .command('validate')
    .argument('[dir]', 'policy directory (default: Policy.Providers.Internal.Directory)')
    .description('Check every *.json policy file; exit 1 with every problem listed')
    .option(
      '--config <file>',
      'extra JSON configuration file, layered over config/appsettings*.json',
    )
    .option('--json', 'machine-readable output')
    .action(
      usageAction(ctx, async (dir: string | undefined, flags: ValidateFlags) => {
        const directory = dir ?? configuredDirectory(ctx, flags.config);
        const loaded = await loadPolicyDirectory(directory);
        const ok = loaded.problems.length === 0;
        const printWarnings = () => {
          for (const warning of loaded.warnings) ctx.io.out(`warning: ${formatProblem(warning)}`);
        };
        if (flags.json) {
          ctx.io.out(
            JSON.stringify(
              {
                directory,
                valid: ok,
                files: loaded.files,
                policies: ok ? loaded.policies.map((p) => p.name) : [],
                problems: loaded.problems,
                warnings: loaded.warnings,
              },
              null,
              2,
            ),
          );
        } else if (ok) {
          printWarnings();
          const names = loaded.policies.map((p) => p.name).join(', ') || 'none';
          ctx.io.out(
            `${loaded.policies.length} policies in ${loaded.files.length} files are valid (${directory}): ${names}`,
          );
        } else {
          for (const problem of loaded.problems) ctx.io.out(formatProblem(problem));
          printWarnings();
          const n = loaded.problems.length;
          ctx.io.out(`${n} ${n === 1 ? 'problem' : 'problems'} in ${directory}`);
        }
        ctx.exitCode = ok ? EXIT.OK : EXIT.FAILURE;
      }),
    );

  policy
    .command('test')
    .description('Dry-run one request against the policies (nothing is sent upstream)')
    .requiredOption('--agent <name>', 'agent name')
    .requiredOption('--vault <name>', 'vault name')
    .requiredOption('--method <method>', 'HTTP method')
    .requiredOption('--url <url>', 'absolute URL, e.g. https://api.example.com/v1/items?x=1')
    .option('--body <file>', 'request body file (JSON bodies are parsed for request.body.*)')
    .option(
      '--header <header>',
      'request header "Name: value" (repeatable)',
      (value: string, list: string[]) => [...list, value],
      [],
    )
    .option('--service <name>', "the vault's service the request is for (local runs match none)")
    .option('--dir <dir>', 'policy directory (default: Policy.Providers.Internal.Directory)')
    .option('--addr <url>', 'ask a running gateway instead (POST /v1/policy/evaluate)')
    .option(
      '--config <file>',
      'extra JSON configuration file, layered over config/appsettings*.json',
    )
    .addOption(
      new Option('--expect <effect>', 'exit 1 unless the decision is this effect').choices([
        ...POLICY_EFFECTS,
      ]),
    )
    .option('--json', 'machine-readable output')
    .action(
      usageAction(ctx, async (flags: TestFlags) => {
        const headers = parseHeaders(flags.header);
        const bytes = flags.body === undefined ? undefined : readBody(flags.body);
        if (bytes && !hasHeader(headers, 'content-type') && parsesAsJson(bytes)) {
          headers['content-type'] = 'application/json';
        }
        const result = flags.addr
          ? await remoteTest(ctx, options, flags, headers, bytes)
          : await localTest(ctx, flags, headers, bytes);
        ctx.io.out(flags.json ? JSON.stringify(result, null, 2) : formatDryRun(result));
        ctx.exitCode = EXIT.OK;
        if (flags.expect && result.decision.effect !== flags.expect) {
          ctx.io.err(
            `vectra: expected ${flags.expect}, the policies decided ${result.decision.effect}`,
          );
          ctx.exitCode = EXIT.FAILURE;
        }
      }),
    );
};

async function localTest(
  ctx: CommandContext,
  flags: TestFlags,
  headers: Record<string, string>,
  bytes: Buffer | undefined,
): Promise<DryRunResult> {
  const { config } = loadConfig({ configFile: flags.config, env: ctx.env });
  const policy = config.Policy;
  if (!policy.Enabled) {
    ctx.io.err('note: Policy.Enabled is false here, so the gateway itself allows every request');
  } else if (policy.DefaultProvider === 'Opa' && !flags.dir) {
    ctx.io.err(
      'note: the gateway decides with OPA; this judges the Internal policy directory (pass --addr to ask the gateway)',
    );
  }
  const directory = resolve(flags.dir ?? policy.Providers.Internal.Directory);
  const loaded = await loadPolicyDirectory(directory);
  if (loaded.problems.length > 0) {
    for (const problem of loaded.problems) ctx.io.err(formatProblem(problem));
    throw new GatewayError(
      'VEC_POLICY_INVALID',
      `the policies in ${directory} have ${loaded.problems.length} problem(s); fix them first (vectra policy validate)`,
    );
  }
  const input = requestInput(() =>
    describedRequestInput({
      agent: flags.agent,
      vault: flags.vault,
      method: flags.method,
      url: flags.url,
      headers,
      body: bytes
        ? bodyFromBytes(bytes, headers['content-type'], policy.MaxBodyBytes)
        : { size: 0 },
      service: flags.service ?? null,
      now: Date.now(),
    }),
  );
  const set = policySet(loaded.policies);
  // Both views of a path with encoded slashes, as the gateway judges it.
  const { decision, trace } = await judgeEveryReading(input, async (view) => {
    const trace: PolicyTrace[] = [];
    return { decision: evaluatePolicies(set, view, trace), trace };
  });
  if (config.Semantic.Enabled && config.Semantic.DefaultProvider !== 'Internal') {
    ctx.io.err(
      `note: the gateway scores risk with ${config.Semantic.DefaultProvider}; this shows the Internal score (pass --addr to ask the gateway)`,
    );
  }
  return withRisk({ decision, trace, input }, targetOf(flags.url), {
    // Locally there is no history of the agent's refusals: that factor counts none.
    scorer: createInternalScorer({}),
    scored: config.Semantic.Enabled,
    approval: {
      enabled: config.HumanInTheLoop.Enabled,
      threshold: config.HumanInTheLoop.Threshold,
    },
  });
}

async function remoteTest(
  ctx: CommandContext,
  options: PolicyCommandOptions,
  flags: TestFlags,
  headers: Record<string, string>,
  bytes: Buffer | undefined,
): Promise<DryRunResult> {
  // Checked here, so that a bad --method or --url is a usage error as in a local run.
  requestInput(() =>
    describedRequestInput({ ...flags, headers, body: { size: 0 }, now: Date.now() }),
  );
  const login = readLogin(ctx.env);
  const addr = resolveAddress(flags.addr, ctx.env, login);
  const token = resolveToken(addr, ctx.env, login);
  const request: Record<string, unknown> = {
    agent: flags.agent,
    vault: flags.vault,
    method: flags.method,
    url: flags.url,
    headers,
  };
  if (flags.service !== undefined) request.service = flags.service;
  if (bytes) {
    // As text, so the gateway judges the same bytes (BOM, JSON found by content); bytes that are
    // not UTF-8 are not JSON, which a body of their size says as well.
    const text = utf8(bytes);
    if (text !== undefined) request.bodyText = text;
    else request.bodySize = bytes.length;
  }
  const doFetch = options.fetch ?? fetch;
  let res: Response;
  try {
    res = await doFetch(`${addr}/v1/policy/evaluate`, {
      method: 'POST',
      headers: {
        accept: 'application/json',
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify(request),
      redirect: 'manual',
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    throw new GatewayError(
      'VEC_CLI_UNREACHABLE',
      `no answer from ${addr} (${cause}); check --addr and that \`vectra serve\` runs there`,
      { cause: err },
    );
  }
  const answer = (await res.json().catch(() => undefined)) as unknown;
  if (!res.ok) {
    const error = answer as Partial<ErrorBody> | undefined;
    if (typeof error?.code === 'string' && typeof error.message === 'string') {
      throw new ApiError(res.status, error as ErrorBody);
    }
    throw new GatewayError(
      'VEC_CLI_UNREACHABLE',
      `${addr} answered HTTP ${res.status} without a Vectra error; is it a Vectra gateway?`,
    );
  }
  const result = answer as DryRunResult | undefined;
  if (!result?.decision?.effect) {
    throw new GatewayError('VEC_CLI_UNREACHABLE', `${addr} did not answer with a policy decision`);
  }
  return result;
}

function configuredDirectory(ctx: CommandContext, configFile: string | undefined): string {
  const { config } = loadConfig({ configFile, env: ctx.env });
  return resolve(config.Policy.Providers.Internal.Directory);
}

function parseHeaders(list: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const item of list) {
    const colon = item.indexOf(':');
    const name = colon < 0 ? '' : item.slice(0, colon).trim().toLowerCase();
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) {
      throw new UsageError(`--header must look like "Name: value", not "${item}"`);
    }
    headers[name] = item.slice(colon + 1).trim();
  }
  return headers;
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.prototype.hasOwnProperty.call(headers, name);
}

function readBody(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError(
      `cannot read --body ${file} (${(err as NodeJS.ErrnoException).code ?? err})`,
    );
  }
}

function utf8(bytes: Buffer): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

function parsesAsJson(bytes: Buffer): boolean {
  try {
    JSON.parse(bytes.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

/** A bad --method or --url is a usage error (exit 2), not a failure. */
function requestInput<T>(build: () => T): T {
  try {
    return build();
  } catch (err) {
    if (err instanceof GatewayError && err.code === 'VEC_REQUEST_INVALID') {
      throw new UsageError(err.message.replace(/\.$/, ''));
    }
    throw err;
  }
}
