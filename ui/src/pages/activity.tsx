/**
 * Activity: a vault's audit log (metadata only), newest first, with a live tail; requests and
 * refusals per agent over what is loaded; the gateway's health (circuits included) and the
 * rate limits in force.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, messageOf } from '../api';
import { ErrorText } from '../components/error-text';
import { AgentChart } from '../components/agent-chart';
import { GatewayStatus } from '../components/gateway-status';
import type { AuditRow, Vault } from '../types';
import { visibleAuditRow } from '../visible';

const KEEP = 500;

export function ActivityPage() {
  const [vaults, setVaults] = useState<Vault[]>([]);
  const [vault, setVault] = useState<string>();
  const [rows, setRows] = useState<AuditRow[]>([]);
  const [live, setLive] = useState(true);
  const [filter, setFilter] = useState('');
  const [error, setError] = useState<string>();

  useEffect(() => {
    api<{ vaults: Vault[] }>('GET', '/v1/vaults').then(
      (answer) => {
        setVaults(answer.vaults);
        setVault((v) => v ?? answer.vaults[0]?.name);
      },
      (err: unknown) => setError(messageOf(err)),
    );
  }, []);

  useEffect(() => {
    if (!vault) return undefined;
    const base = `/v1/vaults/${encodeURIComponent(vault)}/logs`;
    let source: EventSource | undefined;
    let cancelled = false;
    api<{ logs: AuditRow[] }>('GET', `${base}?limit=100`).then(
      (answer) => {
        if (cancelled) return;
        setRows(answer.logs.map(visibleAuditRow));
        if (!live) return;
        const after = answer.logs[0]?.id;
        source = new EventSource(`${base}/stream${after === undefined ? '' : `?after=${after}`}`);
        source.addEventListener('log', (event) => {
          const row = visibleAuditRow(JSON.parse((event as MessageEvent<string>).data) as AuditRow);
          setRows((list) =>
            list.some((r) => r.id === row.id) ? list : [row, ...list].slice(0, KEEP),
          );
        });
      },
      (err: unknown) => setError(messageOf(err)),
    );
    return () => {
      cancelled = true;
      source?.close();
    };
  }, [vault, live]);

  const needle = filter.trim().toLowerCase();
  const shown = needle
    ? rows.filter((r) =>
        [r.agent, r.method, r.host, r.path, r.decision, r.errorCode, r.event, String(r.status)]
          .join(' ')
          .toLowerCase()
          .includes(needle),
      )
    : rows;

  return (
    <section aria-labelledby="activity-title">
      <h1 id="activity-title">Activity</h1>
      <ErrorText error={error} />
      <div class="toolbar">
        <label for="activity-vault">Vault</label>
        <select id="activity-vault" value={vault} onChange={(e) => setVault(e.currentTarget.value)}>
          {vaults.map((v) => (
            <option key={v.name} value={v.name}>
              {v.name}
            </option>
          ))}
        </select>
        <label for="activity-filter">Filter</label>
        <input
          id="activity-filter"
          type="search"
          placeholder="agent, host, code, status…"
          value={filter}
          onInput={(e) => setFilter(e.currentTarget.value)}
        />
        <label class="check">
          <input
            type="checkbox"
            checked={live}
            onChange={(e) => setLive(e.currentTarget.checked)}
          />{' '}
          Live tail
        </label>
      </div>
      <AgentChart rows={rows} />
      <h2>Requests</h2>
      {shown.length === 0 ? (
        <p class="empty">No requests recorded{needle ? ' that match' : ''}.</p>
      ) : (
        <table class="log">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Agent</th>
              <th scope="col">Request</th>
              <th scope="col">Decision</th>
              <th scope="col">Status</th>
              <th scope="col">Code</th>
              <th scope="col">ms</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((r) => (
              <tr key={r.id} class={`d-${r.decision}`}>
                <td>{new Date(r.at).toLocaleTimeString()}</td>
                <td>{r.agent ?? '—'}</td>
                <td>
                  <code>
                    {r.event ??
                      `${r.method} ${r.host}${r.port === 443 || r.port === 80 ? '' : `:${r.port}`}${r.path}`}
                  </code>
                </td>
                <td>{r.decision}</td>
                <td>{r.status ?? '—'}</td>
                <td>{r.errorCode ?? ''}</td>
                <td>{r.latencyMs}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <GatewayStatus />
    </section>
  );
}
