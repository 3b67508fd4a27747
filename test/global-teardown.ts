/** Runs once after the suites: removes the temporary directories the tests made. */
import { removeRunDirectory } from './helpers/temp-dir';

export default function globalTeardown(): void {
  removeRunDirectory();
}
