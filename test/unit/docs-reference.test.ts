import { readFileSync } from 'node:fs';
import { CLI_REFERENCE_FILE, renderCliReference } from '../../src/cli/reference';
import { CONFIG_KEYS } from '../../src/config/keys';
import { CONFIG_REFERENCE_FILE, renderConfigReference } from '../../src/config/reference';

describe('generated reference pages', () => {
  it.each([
    ['docs/configuration.md', CONFIG_REFERENCE_FILE, renderConfigReference, 'npm run docs:config'],
    ['docs/cli.md', CLI_REFERENCE_FILE, renderCliReference, 'npm run docs:cli'],
  ])('%s is what its generator writes', (name, file, render, script) => {
    const upToDate = readFileSync(file, 'utf8') === render();
    if (!upToDate) {
      throw new Error(`${name} is out of date with the code: run \`${script}\` and commit it`);
    }
    expect(upToDate).toBe(true);
  });

  it('docs/configuration.md has a row for every key with its environment variable', () => {
    const page = renderConfigReference();
    const row = (path: string, env: string) =>
      new RegExp(`\\|\\s*\`${path}\`\\s*\\|\\s*\`${env}\`\\s*\\|`);
    const missing = CONFIG_KEYS.filter((k) => !row(k.path, k.envVar).test(page));
    expect(missing.map((k) => k.path)).toEqual([]);
    expect(CONFIG_KEYS.length).toBeGreaterThan(80);
  });

  it('docs/cli.md shows the help of nested commands, with their extra help text', () => {
    const page = renderCliReference();
    expect(page).toContain('## vectra vault create\n\n```text\nUsage: vectra vault create');
    expect(page).toContain('Agent mode: with VECTRA_TOKEN set');
  });
});
