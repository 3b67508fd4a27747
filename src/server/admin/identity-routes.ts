/** Routes for agents (tokens shown once), their vault grants, and admin tokens. */
import type { VaultService } from '../../vault/service-types';
import type { AdminRole } from '../../vault/types';
import { bodyObject, stringField, stringList, type RouteSpec } from './route';

export function identityRoutes(vaults: VaultService): RouteSpec[] {
  return [
    {
      method: 'get',
      path: '/v1/agents',
      access: 'any',
      summary: 'List agents',
      handle: async () => ({ body: { agents: await vaults.listAgents() } }),
    },
    {
      method: 'post',
      path: '/v1/agents',
      access: 'owner',
      summary: 'Create an agent; its token is in this answer only',
      status: 201,
      body: { name: 'agent name', vaults: 'vault names to grant' },
      handle: async (req) => {
        const body = bodyObject(req.body);
        const minted = await vaults.createAgent({
          name: stringField(body, 'name', true),
          vaults: stringList(body, 'vaults'),
        });
        return { status: 201, body: { agent: minted.item, token: minted.token } };
      },
    },
    {
      method: 'get',
      path: '/v1/agents/:agent',
      access: 'any',
      summary: 'Show an agent',
      handle: async (req) => ({ body: { agent: await vaults.getAgent(req.params.agent) } }),
    },
    {
      method: 'delete',
      path: '/v1/agents/:agent',
      access: 'owner',
      summary: 'Delete an agent; its token stops working at once',
      status: 204,
      handle: async (req) => {
        await vaults.deleteAgent(req.params.agent);
        return { status: 204 };
      },
    },
    {
      method: 'post',
      path: '/v1/agents/:agent/rotate',
      access: 'owner',
      summary: "Rotate an agent's token; the old one stops working at once",
      handle: async (req) => {
        const minted = await vaults.rotateAgent(req.params.agent);
        return { body: { agent: minted.item, token: minted.token } };
      },
    },
    {
      method: 'put',
      path: '/v1/agents/:agent/vaults/:vault',
      access: 'owner',
      summary: 'Grant an agent a vault',
      handle: async (req) => ({
        body: { agent: await vaults.grantVault(req.params.agent, req.params.vault) },
      }),
    },
    {
      method: 'delete',
      path: '/v1/agents/:agent/vaults/:vault',
      access: 'owner',
      summary: "Revoke an agent's grant on a vault",
      handle: async (req) => ({
        body: { agent: await vaults.revokeVault(req.params.agent, req.params.vault) },
      }),
    },
    {
      method: 'get',
      path: '/v1/admin-tokens',
      access: 'any',
      summary: 'List admin tokens (never the tokens themselves)',
      handle: async () => ({ body: { adminTokens: await vaults.listAdminTokens() } }),
    },
    {
      method: 'post',
      path: '/v1/admin-tokens',
      access: 'owner',
      summary: 'Create an admin token; it is in this answer only',
      status: 201,
      body: { name: 'token name', role: '`owner`, `approver` or `auditor`' },
      handle: async (req) => {
        const body = bodyObject(req.body);
        const minted = await vaults.createAdminToken({
          name: stringField(body, 'name', true),
          role: stringField(body, 'role', true) as AdminRole,
        });
        return { status: 201, body: { adminToken: minted.item, token: minted.token } };
      },
    },
    {
      method: 'delete',
      path: '/v1/admin-tokens/:id',
      access: 'owner',
      summary: 'Revoke an admin token',
      status: 204,
      handle: async (req) => {
        await vaults.revokeAdminToken(req.params.id);
        return { status: 204 };
      },
    },
  ];
}
