/**
 * The VaultService (./service-types.ts): validation and domain rules over the repositories in
 * ./repositories, the same code on SQLite and PostgreSQL.
 *
 * - Credential values are encrypted with the data key before they reach a repository
 *   (AAD `credential:<vaultId>:<key>`), and leave only through `resolveCredentials`.
 * - Per-vault service lists, settings and credential ciphertexts are cached (./vault-caches.ts),
 *   so a proxied request reads no database; every change that affects them evicts locally and
 *   publishes on `vault-invalidate` so other replicas evict too.
 */
import { randomUUID } from 'node:crypto';
import { GatewayError } from '../errors';
import type { Database, SqlClient } from '../storage/types';
import type { Cipher } from './crypto';
import { conflict, named, notFound, uniquely } from './domain-errors';
import { selectService } from './host-pattern';
import { createCredentialRepository } from './repositories/credential-repository';
import { createServiceRepository } from './repositories/service-repository';
import { createVaultRepository } from './repositories/vault-repository';
import type { VaultService } from './service-types';
import type { AuthScheme, Service, ServiceInput, Vault } from './types';
import {
  credentialReferences,
  invalid,
  validateCredentialKey,
  validateCredentialValue,
  validateName,
  validateServiceInput,
  validateUnmatchedHosts,
} from './validation';
import { invalidationTag, type SealedCredentials, type VaultCaches } from './vault-caches';

export interface VaultServiceDeps {
  db: Database;
  cipher: Cipher;
  /** Shared with the IdentityService, whose token lookups are evicted with them. */
  caches: VaultCaches;
  now?: () => Date;
}

export const DEFAULT_VAULT = 'default';

const credentialAad = (vaultId: string, key: string): string => `credential:${vaultId}:${key}`;

/** Keys per `IN (…)` when loading a vault's ciphertexts, well below either driver's limit. */
const KEYS_PER_QUERY = 500;

export function createVaultService(deps: VaultServiceDeps): VaultService {
  const { db, cipher, caches } = deps;
  const now = deps.now ?? (() => new Date());
  const iso = (): string => now().toISOString();

  const invalidate = (tag: string): Promise<void> => caches.invalidate(tag);

  const vaultNamed = (name: string, client: SqlClient = db): Promise<Vault> =>
    named('vault', 'VEC_VAULT_NOT_FOUND', name, (n) => createVaultRepository(client).findByName(n));

  async function serviceNamed(
    vault: Vault,
    name: string,
    client: SqlClient = db,
  ): Promise<Service> {
    const service = await createServiceRepository(client).find(vault.id, vault.name, name);
    if (!service) {
      throw notFound(
        'VEC_SERVICE_NOT_FOUND',
        `Vault "${vault.name}" has no service named "${name}".`,
        { vault: vault.name, service: name },
      );
    }
    return service;
  }

  /** 400 naming the field, when `auth` names a credential key the vault does not have. */
  async function assertCredentialsExist(client: SqlClient, vault: Vault, auth: AuthScheme) {
    const keys = new Set(
      (await createCredentialRepository(client).listKeys(vault.id)).map((c) => c.key),
    );
    for (const { key, field } of credentialReferences(auth)) {
      if (!keys.has(key)) {
        throw invalid(field, `Vault "${vault.name}" has no credential "${key}"; set it first.`);
      }
    }
  }

  /**
   * Decrypted values by cached entry. Keyed weakly by the entry object, so an evicted or
   * invalidated entry takes its opened values with it; plain values are never written anywhere
   * (the database, the Redis cache and logs only ever see ciphertext).
   */
  const opened = new WeakMap<SealedCredentials, Map<string, string>>();

  /** The vault's id and every credential's ciphertext; read on a cache miss only. */
  async function loadSealed(vaultName: string): Promise<SealedCredentials> {
    const vault = await vaultNamed(vaultName);
    const credentials = createCredentialRepository(db);
    const keys = (await credentials.listKeys(vault.id)).map((c) => c.key);
    const ciphertexts = new Map<string, string>();
    for (let i = 0; i < keys.length; i += KEYS_PER_QUERY) {
      const chunk = keys.slice(i, i + KEYS_PER_QUERY);
      for (const [key, sealed] of await credentials.ciphertexts(vault.id, chunk)) {
        ciphertexts.set(key, sealed);
      }
    }
    return { vaultId: vault.id, vaultName: vault.name, ciphertexts };
  }

  return {
    // ---- Vaults
    listVaults: () => createVaultRepository(db).list(),

    getVault: (name, options) =>
      options?.cached === true ? caches.vault(name, () => vaultNamed(name)) : vaultNamed(name),

    async createVault(input) {
      const name = validateName(input?.name);
      const unmatchedHosts =
        input.unmatchedHosts === undefined ? 'deny' : validateUnmatchedHosts(input.unmatchedHosts);
      const at = iso();
      const vault: Vault = { id: randomUUID(), name, unmatchedHosts, createdAt: at, updatedAt: at };
      await uniquely(`A vault named "${name}" already exists.`, () =>
        createVaultRepository(db).insert(vault),
      );
      // A replica that missed the deletion of an earlier vault of this name must drop its copy.
      await invalidate(invalidationTag.vault(name));
      return vault;
    },

    async updateVault(name, patch) {
      const vault = await vaultNamed(name);
      if (patch?.unmatchedHosts === undefined) return vault;
      const policy = validateUnmatchedHosts(patch.unmatchedHosts);
      const updated = await createVaultRepository(db).updateUnmatchedHosts(vault.id, policy, iso());
      // Only the cached vault: its tokens, services and credentials are unchanged.
      await invalidate(invalidationTag.vaultSettings(vault.name));
      return updated ?? vaultNamed(name);
    },

    async deleteVault(name) {
      if (name === DEFAULT_VAULT) {
        throw new GatewayError('VEC_VAULT_DEFAULT_PROTECTED', undefined, {
          context: { vault: name },
        });
      }
      const vault = await vaultNamed(name);
      if (!(await createVaultRepository(db).delete(vault.id))) await vaultNamed(name);
      await invalidate(invalidationTag.vault(vault.name));
    },

    // ---- Credentials
    async setCredential(vaultName, key, value) {
      validateCredentialKey(key);
      validateCredentialValue(value);
      const vault = await vaultNamed(vaultName);
      const ciphertext = cipher.encrypt(value, credentialAad(vault.id, key));
      const stored = await createCredentialRepository(db).upsert(vault.id, key, ciphertext, iso());
      await invalidate(invalidationTag.credentials(vault.name));
      return stored;
    },

    async listCredentials(vaultName) {
      const vault = await vaultNamed(vaultName);
      return createCredentialRepository(db).listKeys(vault.id);
    },

    async deleteCredential(vaultName, key) {
      const deletedFrom = await db.transaction(async (tx) => {
        const vault = await vaultNamed(vaultName, tx);
        const services = await createServiceRepository(tx).list(vault.id, vault.name);
        const user = services.find((s) => credentialReferences(s.auth).some((r) => r.key === key));
        if (user) {
          throw conflict(
            `Credential "${key}" is used by service "${user.name}"; change or remove the service first.`,
            { vault: vault.name, key, service: user.name },
          );
        }
        if (!(await createCredentialRepository(tx).delete(vault.id, key))) {
          throw notFound(
            'VEC_CREDENTIAL_NOT_FOUND',
            `Vault "${vault.name}" has no credential "${key}".`,
            { vault: vault.name, key },
          );
        }
        return vault.name;
      });
      await invalidate(invalidationTag.credentials(deletedFrom));
    },

    // On the hot path: served from the cache (no database read, no decryption once a value
    // has been opened). Opened values are kept beside their cache entry (see `opened`), so they
    // go when it goes: a credential set or deleted on any replica drops them with the entry.
    async resolveCredentials(vaultName, keys) {
      const vault = await caches.credentials(vaultName, () => loadSealed(vaultName));
      let plain = opened.get(vault);
      if (plain === undefined) {
        plain = new Map();
        opened.set(vault, plain);
      }
      const values = new Map<string, string>();
      for (const key of keys) {
        if (values.has(key)) continue;
        let value = plain.get(key);
        if (value === undefined) {
          const ciphertext = vault.ciphertexts.get(key);
          if (ciphertext === undefined) {
            throw notFound(
              'VEC_CREDENTIAL_NOT_FOUND',
              `Vault "${vault.vaultName}" has no credential "${key}".`,
              { vault: vault.vaultName, key },
            );
          }
          value = cipher.decrypt(ciphertext, credentialAad(vault.vaultId, key));
          plain.set(key, value);
        }
        values.set(key, value);
      }
      return values;
    },

    // ---- Services
    async listServices(vaultName) {
      const vault = await vaultNamed(vaultName);
      return createServiceRepository(db).list(vault.id, vault.name);
    },

    async getService(vaultName, name) {
      return serviceNamed(await vaultNamed(vaultName), name);
    },

    async createService(vaultName, input) {
      const given = validateServiceInput(input ?? {});
      if (given.name === undefined) validateName(undefined); // throws: name is required
      if (given.host === undefined) throw invalid('host', 'host is required');
      if (given.auth === undefined) throw invalid('auth', 'auth is required');
      const checked = given as ServiceInput;
      const created = await uniquely(
        `Vault "${vaultName}" already has a service named "${checked.name}".`,
        () =>
          db.transaction(async (tx) => {
            const vault = await vaultNamed(vaultName, tx);
            await assertCredentialsExist(tx, vault, checked.auth);
            return createServiceRepository(tx).insert(
              {
                ...checked,
                scheme: checked.scheme ?? 'https',
                enabled: checked.enabled ?? true,
                id: randomUUID(),
                vaultId: vault.id,
                vault: vault.name,
              },
              iso(),
            );
          }),
      );
      await invalidate(invalidationTag.services(created.vault));
      return created;
    },

    async updateService(vaultName, name, patch) {
      const checked = validateServiceInput(patch ?? {});
      const updated = await uniquely(
        `Vault "${vaultName}" already has a service named "${checked.name}".`,
        () =>
          db.transaction(async (tx) => {
            const vault = await vaultNamed(vaultName, tx);
            const current = await serviceNamed(vault, name, tx);
            if (checked.auth) await assertCredentialsExist(tx, vault, checked.auth);
            const next = { ...current, ...checked, vaultId: vault.id };
            return (await createServiceRepository(tx).update(next, iso())) ?? current;
          }),
      );
      await invalidate(invalidationTag.services(updated.vault));
      return updated;
    },

    async deleteService(vaultName, name) {
      const vault = await vaultNamed(vaultName);
      if (!(await createServiceRepository(db).delete(vault.id, name))) {
        await serviceNamed(vault, name); // throws the 404
      }
      await invalidate(invalidationTag.services(vault.name));
    },

    async matchService(vaultName, request) {
      const services = await caches.services(vaultName, async () => {
        const vault = await vaultNamed(vaultName);
        return createServiceRepository(db).list(vault.id, vault.name);
      });
      return selectService(services, request);
    },
  };
}
