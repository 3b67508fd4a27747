/**
 * Temporary directories for tests. Each lies inside the run's own directory, which the global
 * set-up creates and the global teardown removes, so no test leaves folders behind in /tmp,
 * whether it passes, fails, or leaves a child process writing into one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The environment variable naming the run's directory, inherited by the jest workers. */
const RUN_DIRECTORY = 'VECTRA_TEST_RUN_DIRECTORY';

/** A fresh empty directory named `prefix` + random characters. */
export function tempDir(prefix = 'vectra-'): string {
  return mkdtempSync(join(process.env[RUN_DIRECTORY] ?? tmpdir(), prefix));
}

/** Creates the run's directory; called once by the global set-up. */
export function createRunDirectory(): void {
  process.env[RUN_DIRECTORY] = mkdtempSync(join(tmpdir(), 'vectra-test-run-'));
}

/** Removes the run's directory and all the tests put in it; called by the global teardown. */
export function removeRunDirectory(): void {
  const dir = process.env[RUN_DIRECTORY];
  if (dir) rmSync(dir, { recursive: true, force: true });
}
