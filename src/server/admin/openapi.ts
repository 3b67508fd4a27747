/** `GET /v1/openapi.json`, written from the same route list that is mounted. */
import { ERROR_CODES } from '../../errors';
import type { RouteSpec } from './route';

const ERROR_SCHEMA = {
  type: 'object',
  required: ['error', 'code', 'message', 'statusCode'],
  properties: {
    error: { type: 'string' },
    code: { type: 'string', enum: Object.keys(ERROR_CODES) },
    message: { type: 'string' },
    statusCode: { type: 'integer' },
  },
};

/** `/v1/vaults/:vault` → `/v1/vaults/{vault}`. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:(\w+)/g, '{$1}');
}

export function buildOpenApi(
  routes: readonly RouteSpec[],
  version: string,
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = openApiPath(route.path);
    const parameters = [...route.path.matchAll(/:(\w+)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const status = String(route.status ?? 200);
    paths[path] ??= {};
    paths[path][route.method] = {
      operationId: `${route.method}${path.replace(/[{}]/g, '').replace(/[/-](\w)/g, (_, c: string) => c.toUpperCase())}`,
      summary: route.summary,
      'x-vectra-access': route.access,
      security: route.access === 'none' ? [] : [{ bearer: [] }],
      parameters,
      ...(route.body
        ? {
            requestBody: {
              required: true,
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: Object.fromEntries(
                      Object.entries(route.body).map(([k, d]) => [k, { description: d }]),
                    ),
                  },
                },
              },
            },
          }
        : {}),
      responses: {
        [status]: { description: status === '204' ? 'No content' : 'Success' },
        default: {
          description: 'Error',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Vectra admin API', version },
    paths,
    components: {
      schemas: { Error: ERROR_SCHEMA },
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'Admin token (vec_adm_…) or, for /discover, an agent or session token',
        },
      },
    },
  };
}
