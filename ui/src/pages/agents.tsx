/**
 * Agents: the list with their vaults; owners create one (its token shown once, with a copy
 * button and ready-made `vectra run` and AGENT_VAULT_* snippets), rotate its token, grant and
 * revoke vaults, and delete it. Below, the vault sessions minted by `vectra run` (revocable).
 */
import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, messageOf } from '../api';
import { CopyButton } from '../components/copy-button';
import { ErrorText } from '../components/error-text';
import { useReloading } from '../reloading';
import type { Agent, SessionInfo, Vault } from '../types';
import { when } from '../time';

interface Minted {
  agent: Agent;
  token: string;
  action: 'created' | 'rotated';
}

export function AgentsPage({ session }: { session: SessionInfo }) {
  const isOwner = session.role === 'owner';
  const [agents, setAgents] = useState<Agent[]>();
  const [vaults, setVaults] = useState<Vault[]>([]);
  const [minted, setMinted] = useState<Minted>();

  const load = useCallback(async () => {
    const [a, v] = await Promise.all([
      api<{ agents: Agent[] }>('GET', '/v1/agents'),
      api<{ vaults: Vault[] }>('GET', '/v1/vaults'),
    ]);
    setAgents(a.agents);
    setVaults(v.vaults);
  }, []);
  const { error, act } = useReloading(load);

  return (
    <section aria-labelledby="agents-title">
      <h1 id="agents-title">Agents</h1>
      <ErrorText error={error} />
      {minted && <TokenPanel minted={minted} onDone={() => setMinted(undefined)} />}
      {isOwner && (
        <CreateAgent
          vaults={vaults}
          onCreated={(answer) => act(async () => setMinted({ ...answer, action: 'created' }))}
        />
      )}
      <h2>All agents</h2>
      {agents === undefined ? (
        <p>Loading…</p>
      ) : agents.length === 0 ? (
        <p class="empty">No agents yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Vaults</th>
              <th scope="col">Created</th>
              <th scope="col">Token rotated</th>
              {isOwner && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {agents.map((agent) => (
              <AgentRow
                key={agent.id}
                agent={agent}
                vaults={vaults}
                isOwner={isOwner}
                onRotate={() =>
                  act(async () => {
                    const answer = await api<{ agent: Agent; token: string }>(
                      'POST',
                      `/v1/agents/${encodeURIComponent(agent.name)}/rotate`,
                    );
                    setMinted({ ...answer, action: 'rotated' });
                  })
                }
                onDelete={() =>
                  act(() => api('DELETE', `/v1/agents/${encodeURIComponent(agent.name)}`))
                }
                onGrant={(vault, grant) =>
                  act(() =>
                    api(
                      grant ? 'PUT' : 'DELETE',
                      `/v1/agents/${encodeURIComponent(agent.name)}/vaults/${encodeURIComponent(vault)}`,
                    ),
                  )
                }
              />
            ))}
          </tbody>
        </table>
      )}
      <Sessions isOwner={isOwner} />
    </section>
  );
}

interface VaultSession {
  id: string;
  vault: string;
  agent: string | null;
  expiresAt: string;
  createdAt: string;
}

function Sessions({ isOwner }: { isOwner: boolean }) {
  const [sessions, setSessions] = useState<VaultSession[]>();
  const [error, setError] = useState<string>();
  const load = useCallback(() => {
    api<{ sessions: VaultSession[] }>('GET', '/v1/sessions').then(
      (answer) => setSessions(answer.sessions),
      (err: unknown) => setError(messageOf(err)),
    );
  }, []);
  useEffect(load, [load]);
  const revoke = async (id: string) => {
    try {
      await api('DELETE', `/v1/sessions/${encodeURIComponent(id)}`);
      load();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  return (
    <section aria-labelledby="sessions-title">
      <h2 id="sessions-title">Sessions</h2>
      <p class="help">
        Vault-scoped tokens minted by `vectra run` in local mode, until they expire.
      </p>
      <ErrorText error={error} />
      {sessions === undefined ? (
        <p>Loading…</p>
      ) : sessions.length === 0 ? (
        <p class="empty">No live sessions.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Session</th>
              <th scope="col">Vault</th>
              <th scope="col">Agent</th>
              <th scope="col">Expires</th>
              {isOwner && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {sessions.map((s) => (
              <tr key={s.id}>
                <th scope="row">
                  <code>{s.id}</code>
                </th>
                <td>{s.vault}</td>
                <td>{s.agent ?? '—'}</td>
                <td>{when(s.expiresAt)}</td>
                {isOwner && (
                  <td>
                    <button
                      type="button"
                      class="danger"
                      aria-label={`Revoke session ${s.id}`}
                      onClick={() => revoke(s.id)}
                    >
                      Revoke
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function CreateAgent(props: {
  vaults: Vault[];
  onCreated: (answer: { agent: Agent; token: string }) => void;
}) {
  const [name, setName] = useState('');
  const [chosen, setChosen] = useState<string[]>([]);
  const [error, setError] = useState<string>();
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    try {
      const answer = await api<{ agent: Agent; token: string }>('POST', '/v1/agents', {
        name: name.trim(),
        vaults: chosen,
      });
      setName('');
      setChosen([]);
      props.onCreated(answer);
    } catch (err) {
      setError(messageOf(err));
    }
  };
  return (
    <form class="card" onSubmit={submit} aria-labelledby="create-agent-title">
      <h2 id="create-agent-title">Create an agent</h2>
      <label for="agent-name">Name</label>
      <input
        id="agent-name"
        required
        pattern="[a-z0-9][a-z0-9._\-]{0,62}"
        title="Lower-case letters, digits, dot, dash and underscore"
        value={name}
        onInput={(e) => setName(e.currentTarget.value)}
      />
      <fieldset>
        <legend>Vaults it may use</legend>
        {props.vaults.map((vault) => (
          <label key={vault.name} class="check">
            <input
              type="checkbox"
              checked={chosen.includes(vault.name)}
              onChange={(e) =>
                setChosen((list) =>
                  e.currentTarget.checked
                    ? [...list, vault.name]
                    : list.filter((v) => v !== vault.name),
                )
              }
            />{' '}
            {vault.name}
          </label>
        ))}
      </fieldset>
      <ErrorText error={error} />
      <button type="submit">Create agent</button>
    </form>
  );
}

function TokenPanel({ minted, onDone }: { minted: Minted; onDone: () => void }) {
  const vault = minted.agent.vaults[0] ?? '<vault>';
  const addr = location.origin;
  const run = `VECTRA_ADDR=${addr} VECTRA_VAULT=${vault} VECTRA_TOKEN=${minted.token} \\\n  npx vectra run -- <command>`;
  const env = `AGENT_VAULT_ADDR=${addr}\nAGENT_VAULT_VAULT=${vault}\nAGENT_VAULT_TOKEN=${minted.token}`;
  return (
    <section class="card token-panel" aria-labelledby="token-title" role="region">
      <h2 id="token-title">
        Token for {minted.agent.name} ({minted.action})
      </h2>
      <p class="warning">
        This token is shown once. Copy it now: Vectra keeps only its hash.
        {minted.action === 'rotated' && ' The previous token no longer works.'}
      </p>
      <div class="copy-row">
        <code data-testid="agent-token">{minted.token}</code>
        <CopyButton text={minted.token} label="Copy token" />
      </div>
      <h3>Run a command as this agent</h3>
      <div class="copy-row">
        <pre>{run}</pre>
        <CopyButton text={run} label="Copy vectra run command" />
      </div>
      <h3>Environment (agent mode)</h3>
      <div class="copy-row">
        <pre>{env}</pre>
        <CopyButton text={env} label="Copy environment variables" />
      </div>
      <button type="button" class="secondary" onClick={onDone}>
        I have saved it
      </button>
    </section>
  );
}

function AgentRow(props: {
  agent: Agent;
  vaults: Vault[];
  isOwner: boolean;
  onRotate: () => void;
  onDelete: () => void;
  onGrant: (vault: string, grant: boolean) => void;
}) {
  const { agent, isOwner } = props;
  const [confirm, setConfirm] = useState<'rotate' | 'delete'>();
  const ungranted = props.vaults.filter((v) => !agent.vaults.includes(v.name));
  return (
    <tr data-agent={agent.name}>
      <th scope="row">{agent.name}</th>
      <td>
        <ul class="tags">
          {agent.vaults.map((vault) => (
            <li key={vault}>
              {vault}
              {isOwner && (
                <button
                  type="button"
                  class="link"
                  aria-label={`Revoke ${agent.name}'s grant on ${vault}`}
                  onClick={() => props.onGrant(vault, false)}
                >
                  ×
                </button>
              )}
            </li>
          ))}
        </ul>
        {isOwner && ungranted.length > 0 && (
          <select
            aria-label={`Grant ${agent.name} a vault`}
            value=""
            onChange={(e) => {
              const vault = e.currentTarget.value;
              if (vault) props.onGrant(vault, true);
            }}
          >
            <option value="">Grant a vault…</option>
            {ungranted.map((v) => (
              <option key={v.name} value={v.name}>
                {v.name}
              </option>
            ))}
          </select>
        )}
      </td>
      <td>{when(agent.createdAt)}</td>
      <td>{when(agent.rotatedAt)}</td>
      {isOwner && (
        <td class="row-actions">
          {confirm === undefined ? (
            <>
              <button
                type="button"
                class="secondary"
                aria-label={`Rotate ${agent.name}'s token`}
                onClick={() => setConfirm('rotate')}
              >
                Rotate token
              </button>
              <button
                type="button"
                class="danger"
                aria-label={`Delete ${agent.name}`}
                onClick={() => setConfirm('delete')}
              >
                Delete
              </button>
            </>
          ) : (
            <>
              <button
                type="button"
                class={confirm === 'delete' ? 'danger' : ''}
                autoFocus
                onClick={() => {
                  setConfirm(undefined);
                  if (confirm === 'delete') props.onDelete();
                  else props.onRotate();
                }}
              >
                {confirm === 'delete' ? `Confirm delete ${agent.name}` : 'Confirm rotate'}
              </button>
              <button type="button" class="secondary" onClick={() => setConfirm(undefined)}>
                Cancel
              </button>
            </>
          )}
        </td>
      )}
    </tr>
  );
}
