/**
 * `GET /v1/policies`: the policies in force, read-only (the Internal provider's files, each with
 * its rules and their reasons; other providers answer `policies: null`).
 * `POST /v1/policy/evaluate`: a dry run over the API. The request is described (agent, vault,
 * method, absolute URL, optional headers and JSON body), judged by the gateway's own policy
 * engine exactly as the `policy` stage would judge it, and never sent anywhere. The answer is
 * the decision, each policy's part in it (Internal provider), the PolicyInput the policies
 * saw and, as the later stages would add them, the risk score with its factors and whether a
 * human would have to approve. When the caller names no service, the vault's services are matched as resolveService
 * does.
 */
import { basename } from 'node:path';
import { GatewayError } from '../../errors';
import type { CompiledPolicy } from '../../policy/policy-file';
import { dryRun, targetOf, type DryRunStages } from '../../policy/dry-run';
import { describedRequestInput, type BodyInfo } from '../../policy/input';
import { bodyFromBytes, bodyFromJson } from '../../policy/json-body';
import type { PolicyEngine } from '../../policy/types';
import type { VaultService } from '../../vault/service-types';
import { bodyObject, optionalField, stringField, type RouteSpec } from './route';

export interface PolicyRouteDeps {
  /** Policy.MaxBodyBytes (default 65536): a larger `body` is counted, not parsed. */
  maxBodyBytes?: number;
  /** Matches the service when the caller names none. */
  vaults?: Pick<VaultService, 'matchService'>;
  now?: () => number;
  /** The risk scorer, so the dry run shows the score and its factors. */
  scorer?: DryRunStages['scorer'];
  /** Semantic.Enabled: the score counts towards approval (otherwise it is only shown). */
  scored?: boolean;
  /** HumanInTheLoop: whether the answer says a human would have to approve. */
  approval?: DryRunStages['approval'];
  /** Finds the standing approval that would let the request through. */
  standing?: DryRunStages['standing'];
}

export function policyRoutes(engine: PolicyEngine, deps: PolicyRouteDeps = {}): RouteSpec[] {
  const maxBodyBytes = deps.maxBodyBytes ?? 65536;
  const listed = listedPolicies(engine);
  const now = deps.now ?? Date.now;
  return [
    {
      method: 'get',
      path: '/v1/policies',
      access: 'any',
      summary:
        'The policies in force (Internal provider): name, file, scope, default and each rule with its reason; `policies: null` for other providers',
      handle: async () => ({
        body: { provider: engine.provider, policies: listed ? listed().map(summary) : null },
      }),
    },
    {
      method: 'post',
      path: '/v1/policy/evaluate',
      access: 'any',
      summary:
        'Dry run: what the policies decide for a described request (nothing is sent upstream)',
      body: {
        agent: 'agent name',
        vault: 'vault name',
        method: 'HTTP method',
        url: 'absolute URL (https://host/path?query)',
        headers: 'object of header names to values (optional)',
        body: 'the JSON body (optional)',
        bodyText: 'the body as sent, as text: judged as the gateway judges bytes (optional)',
        bodySize: 'body size in bytes when no body is given: one that is not JSON (optional)',
        service: "service name (optional; default: matched from the vault's services)",
      },
      handle: async (req) => {
        const body = bodyObject(req.body);
        const headers = headerObject(body);
        const given = body.body !== undefined;
        const contentType = Object.keys(headers).find((h) => h.toLowerCase() === 'content-type');
        if (given && contentType === undefined) headers['content-type'] = 'application/json';
        const bodyText = stringField(body, 'bodyText');
        if (given && bodyText !== undefined) {
          throw new GatewayError('VEC_REQUEST_INVALID', 'Give `body` or `bodyText`, not both.', {
            context: { field: 'bodyText' },
          });
        }
        const bodySize = optionalField<number>(body, 'bodySize', 'number');
        const vault = stringField(body, 'vault', true);
        const input = describedRequestInput({
          agent: stringField(body, 'agent', true),
          vault,
          method: stringField(body, 'method', true),
          url: stringField(body, 'url', true),
          headers,
          body: given
            ? bodyFromJson(body.body, maxBodyBytes)
            : describedBody(
                bodyText,
                contentType && headers[contentType],
                bodySize ?? 0,
                maxBodyBytes,
              ),
          service: stringField(body, 'service') ?? null,
          now: now(),
        });
        if (body.service === undefined && deps.vaults) {
          const { scheme, host, port, path } = input.request;
          const service = await deps.vaults.matchService(vault, { scheme, host, port, path });
          input.service = service ? { name: service.name } : null;
        }
        return {
          body: await dryRun(engine, input, targetOf(stringField(body, 'url', true)), deps),
        };
      },
    },
  ];
}

function headerObject(body: Record<string, unknown>): Record<string, string> {
  const headers = optionalField<Record<string, unknown>>(body, 'headers', 'object') ?? {};
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== 'string') {
      throw new GatewayError('VEC_REQUEST_INVALID', `\`headers.${name}\` must be a string.`, {
        context: { field: `headers.${name}` },
      });
    }
    result[name] = value;
  }
  return result;
}

/**
 * A body given as text is judged as the gateway judges the same bytes. One given only by its
 * size is judged as the gateway would judge a body it could read but not parse: over the limit
 * it is too large, and with content not given it is not JSON.
 */
function describedBody(
  text: string | undefined,
  contentType: string | undefined,
  size: number,
  limit: number,
): BodyInfo {
  if (text !== undefined) return bodyFromBytes(Buffer.from(text), contentType, limit);
  if (size > limit) return { size, unreadable: 'too-large' };
  return size > 0 ? { size, unreadable: 'not-json' } : { size };
}

/** The Internal engine's list of active policies, when the engine has one. */
function listedPolicies(engine: PolicyEngine): (() => readonly CompiledPolicy[]) | undefined {
  const candidate = engine as PolicyEngine & { policies?: () => readonly CompiledPolicy[] };
  return typeof candidate.policies === 'function' ? () => candidate.policies!() : undefined;
}

/** A policy as the API shows it: what it is and does, never the server's paths. */
function summary(policy: CompiledPolicy) {
  const scope = (matcher: { patterns: readonly string[] } | undefined) =>
    matcher ? [...matcher.patterns] : undefined;
  return {
    name: policy.name,
    description: policy.description,
    owner: policy.owner,
    file: basename(policy.file),
    enabled: policy.enabled,
    appliesTo: {
      agents: scope(policy.appliesTo.agents),
      vaults: scope(policy.appliesTo.vaults),
      services: scope(policy.appliesTo.services),
    },
    defaultEffect: policy.defaultEffect,
    defaultReason: policy.defaultReason,
    rules: policy.rules.map((rule) => ({
      name: rule.name,
      priority: rule.priority,
      effect: rule.effect,
      risk: rule.risk,
      reason: rule.reason,
    })),
  };
}
