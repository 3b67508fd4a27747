/**
 * The first start on an empty database creates an `owner` admin token, so the operator can log
 * in. It is written to `<data dir>/admin-token` (owner-only) and printed once on stderr —
 * deliberately not through the logger, whose sinks (files, Seq) keep what they are given.
 * `Security.Admin.BootstrapToken` supplies the token instead, for automated deployments.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GatewayError } from '../errors';
import type { Logger } from '../observability/types';
import type { IdentityService } from './service-types';
import { tokenKind } from './tokens';

const BOOTSTRAP_NAME = 'bootstrap-owner';

export interface BootstrapOptions {
  identity: Pick<IdentityService, 'listAdminTokens' | 'createAdminToken'>;
  dataDirectory: string;
  bootstrapToken?: string;
  /** Where the new token is shown once (process.stderr in `vectra serve`). */
  announce: (text: string) => void;
  logger: Logger;
}

/** Returns true when this call created the first admin token. */
export async function ensureBootstrapAdmin(options: BootstrapOptions): Promise<boolean> {
  const { identity, bootstrapToken } = options;
  if (bootstrapToken && tokenKind(bootstrapToken) !== 'admin') {
    throw new GatewayError(
      'VEC_CONFIG_INVALID',
      'Security.Admin.BootstrapToken must be `vec_adm_` followed by 43 base64url characters (32 random bytes).',
    );
  }
  if ((await identity.listAdminTokens()).length > 0) return false;
  let minted: Awaited<ReturnType<BootstrapOptions['identity']['createAdminToken']>>;
  try {
    minted = await identity.createAdminToken({
      name: BOOTSTRAP_NAME,
      role: 'owner',
      token: bootstrapToken,
    });
  } catch (err) {
    // Replicas starting together on an empty database: the unique name lets exactly one win.
    if ((err as GatewayError).code === 'VEC_RESOURCE_CONFLICT') return false;
    throw err;
  }
  if (bootstrapToken) {
    options.logger.info('created the owner admin token from Security.Admin.BootstrapToken', {
      id: minted.item.id,
    });
    return true;
  }
  const file = join(options.dataDirectory, 'admin-token');
  await writeFile(file, `${minted.token}\n`, { mode: 0o600, flag: 'w' });
  options.announce(
    [
      '',
      'vectra: created the first admin token (role owner). It is shown only this once, and saved in',
      `        ${file} (readable by this user only). Log in with:`,
      `        vectra auth login --addr <gateway URL> --token-stdin < ${file}`,
      `        ${minted.token}`,
      '',
    ].join('\n'),
  );
  options.logger.warn(
    'created the first owner admin token; it is in the admin-token file of the data directory',
    {
      id: minted.item.id,
    },
  );
  return true;
}
