/** Policies: the dry-run tester (the policy files themselves are read-only here). */
import { DryRun } from '../components/dry-run';

export function PoliciesPage() {
  return (
    <section aria-labelledby="policies-title">
      <h1 id="policies-title">Policies</h1>
      <p class="help">
        Policies are files in the gateway's policy directory (read-only here). Test what a request
        would get: nothing is sent upstream.
      </p>
      <DryRun id="dry-run" />
    </section>
  );
}
