/**
 * `vectra master-password change`, run in-process through commander (the command is not in
 * main.ts's list yet, so bin/vectra.js cannot reach it) against a real SQLite database.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { main } from '../../src/cli/main';
import { loadConfig } from '../../src/config/loader';
import { EXIT } from '../../src/errors';
import { createSettingsRepository, openDatabase } from '../../src/storage';
import { KEYRING_SETTING, openKeyring } from '../../src/vault/keyring';
import { REPO_ROOT, testEnv } from '../helpers/gateway';

const AAD = 'credential:vault-1:STRIPE_KEY';
const SECRET = 'sk_live_planted_secret_4242';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `vectra master-password change …` through main(), as the binary does. */
async function runChange(args: string[], env: NodeJS.ProcessEnv, stdinText?: string): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io = { out: (s: string) => (stdout += `${s}\n`), err: (s: string) => (stderr += `${s}\n`) };
  const stdin = stdinText === undefined ? undefined : Readable.from([Buffer.from(stdinText)]);
  const code = await main(['master-password', 'change', ...args], io, env, stdin);
  return { code, stdout, stderr };
}

let env: NodeJS.ProcessEnv;
let dataDirectory: string;

beforeEach(() => {
  env = testEnv();
  dataDirectory = env.System__Storage__DataDirectory as string;
});

afterEach(() => rmSync(dataDirectory, { recursive: true, force: true }));

/** Opens the test database like the gateway does, runs `fn` with its keyring, closes it. */
async function withKeyring<T>(
  masterPassword: string | undefined,
  fn: (keyring: Awaited<ReturnType<typeof openKeyring>>) => T,
): Promise<T> {
  const config = loadConfig({ baseDir: REPO_ROOT, env }).config;
  const database = await openDatabase(config.System.Storage.Database);
  try {
    const settings = createSettingsRepository(database);
    return fn(await openKeyring({ settings, dataDirectory, masterPassword }));
  } finally {
    await database.close();
  }
}

async function keyringRow(): Promise<string | undefined> {
  const config = loadConfig({ baseDir: REPO_ROOT, env }).config;
  const database = await openDatabase(config.System.Storage.Database);
  try {
    return await createSettingsRepository(database).get(KEYRING_SETTING);
  } finally {
    await database.close();
  }
}

describe('vectra master-password change', () => {
  it('takes the new password from VECTRA_NEW_MASTER_PASSWORD, the current from the config', async () => {
    const sealed = await withKeyring('old password', (k) => k.cipher.encrypt(SECRET, AAD));
    const res = await runChange([], {
      ...env,
      Security__MasterPassword: 'old password',
      VECTRA_NEW_MASTER_PASSWORD: 'new password',
    });
    expect(res).toEqual({
      code: 0,
      stdout:
        'master password changed; start the gateway with the new one in Security__MasterPassword (or Security__MasterPasswordFile)\n',
      stderr: '',
    });
    await expect(withKeyring('old password', () => 'opened')).rejects.toMatchObject({
      code: 'VEC_MASTER_KEY_INVALID',
    });
    expect(await withKeyring('new password', (k) => k.cipher.decrypt(sealed, AAD))).toBe(SECRET);
  });

  it('reads the new password from the first line of stdin, the current from MasterPasswordFile', async () => {
    const sealed = await withKeyring('old password', (k) => k.cipher.encrypt(SECRET, AAD));
    const file = join(dataDirectory, 'password.txt');
    writeFileSync(file, 'old password\n', { mode: 0o600 });
    const res = await runChange(
      ['--new-password-stdin'],
      {
        ...env,
        Security__MasterPasswordFile: file,
        VECTRA_NEW_MASTER_PASSWORD: 'ignored when stdin is used',
      },
      'from stdin\nsecond line\n',
    );
    expect(res.code).toBe(0);
    expect(await withKeyring('from stdin', (k) => k.cipher.decrypt(sealed, AAD))).toBe(SECRET);
  });

  it('--to-keyfile protects the keyring with master.key instead', async () => {
    const sealed = await withKeyring('old password', (k) => k.cipher.encrypt(SECRET, AAD));
    const res = await runChange(['--to-keyfile'], {
      ...env,
      Security__MasterPassword: 'old password',
    });
    const keyFile = join(dataDirectory, 'master.key');
    expect(res).toEqual({
      code: 0,
      stdout: `credentials are now protected by the key file ${keyFile}; unset Security__MasterPassword and Security__MasterPasswordFile before the next start\n`,
      stderr: '',
    });
    expect(existsSync(keyFile)).toBe(true);
    expect(await withKeyring(undefined, (k) => k.cipher.decrypt(sealed, AAD))).toBe(SECRET);
  });

  it.each([
    ['no new password at all', [], {}, undefined, /the new master password is empty/],
    ['an empty variable', [], { VECTRA_NEW_MASTER_PASSWORD: '' }, undefined, /is empty/],
    ['an empty first line on stdin', ['--new-password-stdin'], {}, '\nsecond\n', /is empty/],
    [
      '--to-keyfile with --new-password-stdin',
      ['--to-keyfile', '--new-password-stdin'],
      {},
      'x\n',
      /cannot be used with option '--new-password-stdin'/,
    ],
    [
      '--to-keyfile with VECTRA_NEW_MASTER_PASSWORD',
      ['--to-keyfile'],
      { VECTRA_NEW_MASTER_PASSWORD: 'x' },
      undefined,
      /VECTRA_NEW_MASTER_PASSWORD is set; unset it or drop --to-keyfile/,
    ],
  ])(
    'is a usage error (exit 2) with %s, and changes nothing',
    async (_name, args, extra, stdin, message) => {
      await withKeyring('old password', () => undefined);
      const row = await keyringRow();
      const res = await runChange(
        args,
        { ...env, Security__MasterPassword: 'old password', ...extra },
        stdin,
      );
      expect(res.code).toBe(EXIT.CONFIG_OR_USAGE);
      expect(res.stdout).toBe('');
      expect(res.stderr).toMatch(message);
      expect(await keyringRow()).toBe(row);
    },
  );

  it('fails (exit 1) with VEC_MASTER_KEY_INVALID when the current password is wrong', async () => {
    await withKeyring('old password', () => undefined);
    const row = await keyringRow();
    const res = await runChange([], {
      ...env,
      Security__MasterPassword: 'wrong password',
      VECTRA_NEW_MASTER_PASSWORD: 'new password',
    });
    expect(res.code).toBe(EXIT.FAILURE);
    expect(res.stderr).toMatch(
      /^vectra: the master password does not open the keyring .*\[VEC_MASTER_KEY_INVALID\]\n$/,
    );
    expect(res.stderr).not.toContain('new password');
    expect(await keyringRow()).toBe(row);
  });

  it('is a configuration error (exit 2) when MasterPasswordFile cannot be read', async () => {
    const res = await runChange([], {
      ...env,
      Security__MasterPasswordFile: join(dataDirectory, 'missing.txt'),
      VECTRA_NEW_MASTER_PASSWORD: 'new password',
    });
    expect(res.code).toBe(EXIT.CONFIG_OR_USAGE);
    expect(res.stderr).toMatch(
      /- Security\.MasterPasswordFile \[env Security__MasterPasswordFile\]: cannot read .*missing\.txt \(ENOENT\)/,
    );
    expect(res.stderr).toContain('hint: `vectra config show`');
  });
});
