/**
 * Rate-limit overrides over the API: `GET /v1/rate-limits` (the default and every override this
 * replica applies, from the configuration and the API), `PUT /v1/rate-limits/:tier/:name` and
 * `DELETE /v1/rate-limits/:tier/:name` (API overrides; every replica applies them). A service
 * name `<vault>/<service>` is sent with its slash encoded: `/v1/rate-limits/services/prod%2Fgithub`.
 */
import type { RateLimitConfig } from '../../config/schema';
import { RATE_LIMIT_WINDOW_SECONDS } from '../../guards/rate-limit';
import type { RateLimitOverridesService } from '../../guards/rate-limit-overrides';
import { bodyObject, type RouteSpec } from './route';

export const RATE_LIMITS_PATH = '/v1/rate-limits';

export function rateLimitRoutes(
  overrides: Pick<RateLimitOverridesService, 'list' | 'set' | 'remove'>,
  config: Pick<RateLimitConfig, 'DefaultRequestsPerMinute' | 'Burst'>,
): RouteSpec[] {
  return [
    {
      method: 'get',
      path: RATE_LIMITS_PATH,
      access: 'any',
      summary:
        'The default rate limit and every override in effect on this replica (tier agents|vaults|services, source config|api), sorted by tier and name',
      handle: async () => ({
        body: {
          default: {
            requestsPerMinute: config.DefaultRequestsPerMinute,
            burst: config.Burst,
            windowSeconds: RATE_LIMIT_WINDOW_SECONDS,
          },
          overrides: overrides.list(),
        },
      }),
    },
    {
      method: 'put',
      path: `${RATE_LIMITS_PATH}/:tier/:name`,
      access: 'owner',
      summary:
        'Set an override (tier agents|vaults|services; a service is <service> or <vault>/<service>, the slash sent as %2F); it wins over a configured one and reaches every replica',
      body: { requestsPerMinute: 'whole number of requests per minute, at least 1' },
      handle: async (req) => {
        const body = bodyObject(req.body);
        const override = await overrides.set(
          req.params.tier,
          req.params.name,
          body.requestsPerMinute,
        );
        return { body: { override } };
      },
    },
    {
      method: 'delete',
      path: `${RATE_LIMITS_PATH}/:tier/:name`,
      access: 'owner',
      status: 204,
      summary:
        'Remove an override set through the API (a configured value for the same name applies again)',
      handle: async (req) => {
        await overrides.remove(req.params.tier, req.params.name);
        return {};
      },
    },
  ];
}
