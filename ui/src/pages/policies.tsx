/** Policies: the policies in force, read-only, and the dry-run tester. */
import { useEffect, useState } from 'preact/hooks';
import { api, messageOf } from '../api';
import { DryRun } from '../components/dry-run';
import { ErrorText } from '../components/error-text';

interface PolicyRule {
  name: string;
  priority: number;
  effect: string;
  risk?: number;
  reason: string;
}

interface Policy {
  name: string;
  description?: string;
  owner?: string;
  file: string;
  enabled: boolean;
  appliesTo: { agents?: string[]; vaults?: string[]; services?: string[] };
  defaultEffect: string;
  defaultReason: string;
  rules: PolicyRule[];
}

export function PoliciesPage() {
  const [listing, setListing] = useState<{ provider: string; policies: Policy[] | null }>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    api<{ provider: string; policies: Policy[] | null }>('GET', '/v1/policies').then(
      setListing,
      (err: unknown) => setError(messageOf(err)),
    );
  }, []);

  return (
    <section aria-labelledby="policies-title">
      <h1 id="policies-title">Policies</h1>
      <p class="help">
        Policies are files in the gateway's policy directory; change them there (they reload on
        their own). Test what a request would get below: nothing is sent upstream.
      </p>
      <DryRun id="dry-run" />
      <h2>In force</h2>
      <ErrorText error={error} />
      {listing?.policies === null && (
        <p>The {listing.provider} provider decides; its policies are not listed here.</p>
      )}
      {listing?.policies?.length === 0 && (
        <p class="empty">No policy is loaded: every request is refused.</p>
      )}
      {listing?.policies?.map((policy) => (
        <article class="card" key={policy.name} aria-labelledby={`policy-${policy.name}`}>
          <h3 id={`policy-${policy.name}`}>
            {policy.name} <span class="help">({policy.file})</span>
            {!policy.enabled && <span class="role"> disabled</span>}
          </h3>
          {policy.description && <p>{policy.description}</p>}
          <dl class="facts">
            <dt>Applies to</dt>
            <dd>{scope(policy.appliesTo)}</dd>
            <dt>Otherwise</dt>
            <dd>
              <strong>{policy.defaultEffect}</strong>: {policy.defaultReason}
            </dd>
            {policy.owner && (
              <>
                <dt>Owner</dt>
                <dd>{policy.owner}</dd>
              </>
            )}
          </dl>
          {policy.rules.length > 0 && (
            <table>
              <thead>
                <tr>
                  <th scope="col">Rule</th>
                  <th scope="col">Priority</th>
                  <th scope="col">Effect</th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {policy.rules.map((rule) => (
                  <tr key={rule.name}>
                    <th scope="row">{rule.name}</th>
                    <td>{rule.priority}</td>
                    <td>
                      {rule.effect}
                      {rule.risk !== undefined ? ` (risk ${rule.risk})` : ''}
                    </td>
                    <td>{rule.reason}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </article>
      ))}
    </section>
  );
}

function scope(appliesTo: Policy['appliesTo']): string {
  const parts = (['agents', 'vaults', 'services'] as const)
    .filter((key) => appliesTo[key]?.length)
    .map((key) => `${key} ${appliesTo[key]!.join(', ')}`);
  return parts.length ? parts.join('; ') : 'every request';
}
