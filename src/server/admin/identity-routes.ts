/** Routes for agents (tokens shown once), their vault grants, and admin tokens. */
import type { IdentityService } from '../../identity/service-types';
import type { AdminRole } from '../../identity/types';
import {
  changeRoute,
  deleteRoute,
  readRoute,
  stringField,
  stringList,
  writeRoute,
  type RouteSpec,
} from './route';

export function identityRoutes(identity: IdentityService): RouteSpec[] {
  return [
    readRoute('/v1/agents', 'List agents', 'agents', () => identity.listAgents()),
    writeRoute(
      {
        method: 'post',
        path: '/v1/agents',
        summary: 'Create an agent; its token is in this answer only',
        status: 201,
        body: { name: 'agent name', vaults: 'vault names to grant' },
      },
      async (body) => {
        const minted = await identity.createAgent({
          name: stringField(body, 'name', true),
          vaults: stringList(body, 'vaults'),
        });
        return { agent: minted.item, token: minted.token };
      },
    ),
    readRoute('/v1/agents/:agent', 'Show an agent', 'agent', (req) =>
      identity.getAgent(req.params.agent),
    ),
    deleteRoute('/v1/agents/:agent', 'Delete an agent; its token stops working at once', (p) =>
      identity.deleteAgent(p.agent),
    ),
    {
      method: 'post',
      path: '/v1/agents/:agent/rotate',
      access: 'owner',
      summary: "Rotate an agent's token; the old one stops working at once",
      handle: async (req) => {
        const minted = await identity.rotateAgent(req.params.agent);
        return { body: { agent: minted.item, token: minted.token } };
      },
    },
    changeRoute('put', '/v1/agents/:agent/vaults/:vault', 'Grant an agent a vault', 'agent', (p) =>
      identity.grantVault(p.agent, p.vault),
    ),
    changeRoute(
      'delete',
      '/v1/agents/:agent/vaults/:vault',
      "Revoke an agent's grant on a vault",
      'agent',
      (p) => identity.revokeVault(p.agent, p.vault),
    ),
    readRoute(
      '/v1/admin-tokens',
      'List admin tokens (never the tokens themselves)',
      'adminTokens',
      () => identity.listAdminTokens(),
    ),
    writeRoute(
      {
        method: 'post',
        path: '/v1/admin-tokens',
        summary: 'Create an admin token; it is in this answer only',
        status: 201,
        body: { name: 'token name', role: '`owner`, `approver` or `auditor`' },
      },
      async (body) => {
        const minted = await identity.createAdminToken({
          name: stringField(body, 'name', true),
          role: stringField(body, 'role', true) as AdminRole,
        });
        return { adminToken: minted.item, token: minted.token };
      },
    ),
    deleteRoute('/v1/admin-tokens/:id', 'Revoke an admin token', (p) =>
      identity.revokeAdminToken(p.id),
    ),
  ];
}
