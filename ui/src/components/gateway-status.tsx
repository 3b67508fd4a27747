/** The gateway's health checks (open circuits among them) and the rate limits in force. */
import { useEffect, useState } from 'preact/hooks';
import { api, messageOf } from '../api';
import { ErrorText } from './error-text';

interface Health {
  status: string;
  checks: Record<string, { status: string; description?: string }>;
}

interface RateLimits {
  default: { requestsPerMinute: number; burst: number; windowSeconds: number };
  overrides: Array<{ tier: string; name: string; requestsPerMinute: number; source?: string }>;
}

export function GatewayStatus() {
  const [health, setHealth] = useState<Health>();
  const [limits, setLimits] = useState<RateLimits>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    // /health answers 503 with the same body when unhealthy: read it either way.
    fetch('/health')
      .then((res) => res.json() as Promise<Health>)
      .then(setHealth, (err: unknown) => setError(messageOf(err)));
    api<RateLimits>('GET', '/v1/rate-limits').then(setLimits, (err: unknown) =>
      setError(messageOf(err)),
    );
  }, []);
  return (
    <section aria-labelledby="status-title">
      <h2 id="status-title">Gateway</h2>
      <ErrorText error={error} />
      {health && (
        <table>
          <caption>Health: {health.status}</caption>
          <thead>
            <tr>
              <th scope="col">Check</th>
              <th scope="col">Status</th>
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            {Object.entries(health.checks).map(([name, check]) => (
              <tr key={name} class={`h-${check.status.toLowerCase()}`}>
                <th scope="row">{name}</th>
                <td>{check.status}</td>
                <td>{check.description ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {limits && (
        <>
          <h3 class="spaced">Rate limits</h3>
          <p>
            Default: {limits.default.requestsPerMinute} requests per minute per agent, burst{' '}
            {limits.default.burst}.
          </p>
          {limits.overrides.length > 0 && (
            <table>
              <thead>
                <tr>
                  <th scope="col">Tier</th>
                  <th scope="col">Name</th>
                  <th scope="col">Requests per minute</th>
                </tr>
              </thead>
              <tbody>
                {limits.overrides.map((o) => (
                  <tr key={`${o.tier}/${o.name}`}>
                    <td>{o.tier}</td>
                    <th scope="row">{o.name}</th>
                    <td>{o.requestsPerMinute}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}
