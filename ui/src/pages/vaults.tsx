/**
 * Vaults: each vault's credentials (keys only: values are write-only) and services, and a
 * tester of which service and decision a URL gets. Owners create vaults, set and delete
 * credentials, add, enable, disable and delete services, and change the unmatched-host setting.
 */
import { useCallback, useState } from 'preact/hooks';
import { api, messageOf } from '../api';
import { DryRun } from '../components/dry-run';
import { ErrorText } from '../components/error-text';
import { useReloading } from '../reloading';
import { ServiceForm } from '../components/service-form';
import type { Credential, Service, SessionInfo, Vault } from '../types';
import { when } from '../time';

export function VaultsPage({ session }: { session: SessionInfo }) {
  const isOwner = session.role === 'owner';
  const [vaults, setVaults] = useState<Vault[]>();
  const [chosen, setChosen] = useState<string>();
  const [newVault, setNewVault] = useState('');

  const load = useCallback(async () => {
    const answer = await api<{ vaults: Vault[] }>('GET', '/v1/vaults');
    setVaults(answer.vaults);
    setChosen((current) => current ?? answer.vaults[0]?.name);
  }, []);
  const { error, setError, reload } = useReloading(load);

  const create = async (event: Event) => {
    event.preventDefault();
    try {
      await api('POST', '/v1/vaults', { name: newVault.trim() });
      setChosen(newVault.trim());
      setNewVault('');
      await load();
    } catch (err) {
      setError(messageOf(err));
    }
  };

  return (
    <section aria-labelledby="vaults-title">
      <h1 id="vaults-title">Vaults</h1>
      <ErrorText error={error} />
      <div class="toolbar">
        <label for="vault-pick">Vault</label>
        <select id="vault-pick" value={chosen} onChange={(e) => setChosen(e.currentTarget.value)}>
          {(vaults ?? []).map((v) => (
            <option key={v.name} value={v.name}>
              {v.name}
            </option>
          ))}
        </select>
        {isOwner && (
          <form class="inline" onSubmit={create}>
            <label for="new-vault">New vault</label>
            <input
              id="new-vault"
              required
              value={newVault}
              onInput={(e) => setNewVault(e.currentTarget.value)}
            />
            <button type="submit">Create vault</button>
          </form>
        )}
      </div>
      {chosen && vaults && (
        <VaultDetail
          key={chosen}
          vault={vaults.find((v) => v.name === chosen) ?? { name: chosen }}
          isOwner={isOwner}
          onChanged={reload}
        />
      )}
    </section>
  );
}

function VaultDetail(props: { vault: Vault; isOwner: boolean; onChanged: () => void }) {
  const { vault, isOwner } = props;
  const base = `/v1/vaults/${encodeURIComponent(vault.name)}`;
  const [credentials, setCredentials] = useState<Credential[]>();
  const [services, setServices] = useState<Service[]>();
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');

  const load = useCallback(async () => {
    const [c, s] = await Promise.all([
      api<{ credentials: Credential[] }>('GET', `${base}/credentials`),
      api<{ services: Service[] }>('GET', `${base}/services`),
    ]);
    setCredentials(c.credentials);
    setServices(s.services);
  }, [base]);
  const { error, reload, act } = useReloading(load);

  return (
    <>
      <ErrorText error={error} />
      <section aria-labelledby="unmatched-title" class="card">
        <h2 id="unmatched-title">Hosts that match no service</h2>
        {isOwner ? (
          <>
            <label for="unmatched">Requests to them are</label>
            <select
              id="unmatched"
              value={vault.unmatchedHosts}
              onChange={(e) => {
                const unmatchedHosts = e.currentTarget.value;
                void act(async () => {
                  await api('PATCH', base, { unmatchedHosts });
                  props.onChanged();
                });
              }}
            >
              <option value="deny">denied</option>
              <option value="passthrough">passed through without a credential</option>
            </select>
          </>
        ) : (
          <p>{vault.unmatchedHosts === 'passthrough' ? 'Passed through' : 'Denied'}</p>
        )}
      </section>
      <section aria-labelledby="credentials-title">
        <h2 id="credentials-title">Credentials</h2>
        <p class="help">Values are write-only: set or replace them, they are never shown.</p>
        {credentials && credentials.length > 0 ? (
          <table>
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Updated</th>
                {isOwner && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {credentials.map((c) => (
                <tr key={c.key}>
                  <th scope="row">
                    <code>{c.key}</code>
                  </th>
                  <td>{when(c.updatedAt)}</td>
                  {isOwner && (
                    <td>
                      <button
                        type="button"
                        class="danger"
                        aria-label={`Delete credential ${c.key}`}
                        onClick={() =>
                          act(() =>
                            api('DELETE', `${base}/credentials/${encodeURIComponent(c.key)}`),
                          )
                        }
                      >
                        Delete
                      </button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p class="empty">{credentials ? 'No credentials.' : 'Loading…'}</p>
        )}
        {isOwner && (
          <form
            class="inline card"
            onSubmit={(event) => {
              event.preventDefault();
              void act(async () => {
                await api('PUT', `${base}/credentials/${encodeURIComponent(key.trim())}`, {
                  value,
                });
                setKey('');
                setValue('');
              });
            }}
          >
            <label for="cred-key">Key</label>
            <input
              id="cred-key"
              required
              value={key}
              onInput={(e) => setKey(e.currentTarget.value)}
            />
            <label for="cred-value">Value</label>
            <input
              id="cred-value"
              type="password"
              autoComplete="off"
              required
              value={value}
              onInput={(e) => setValue(e.currentTarget.value)}
            />
            <button type="submit">Set credential</button>
          </form>
        )}
      </section>
      <section aria-labelledby="services-title">
        <h2 id="services-title">Services</h2>
        {services && services.length > 0 ? (
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Host</th>
                <th scope="col">Auth</th>
                <th scope="col">Enabled</th>
                {isOwner && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {services.map((s) => (
                <tr key={s.name}>
                  <th scope="row">{s.name}</th>
                  <td>
                    <code>
                      {s.scheme ?? 'https'}://{s.host}
                    </code>
                  </td>
                  <td>{s.auth.type}</td>
                  <td>
                    {isOwner ? (
                      <label class="check">
                        <input
                          type="checkbox"
                          checked={s.enabled !== false}
                          onChange={(e) => {
                            const enabled = e.currentTarget.checked;
                            void act(() =>
                              api('PATCH', `${base}/services/${encodeURIComponent(s.name)}`, {
                                enabled,
                              }),
                            );
                          }}
                        />{' '}
                        <span class="sr-only">Service {s.name} </span>enabled
                      </label>
                    ) : s.enabled !== false ? (
                      'yes'
                    ) : (
                      'no'
                    )}
                  </td>
                  {isOwner && (
                    <td>
                      <button
                        type="button"
                        class="danger"
                        aria-label={`Delete service ${s.name}`}
                        onClick={() =>
                          act(() => api('DELETE', `${base}/services/${encodeURIComponent(s.name)}`))
                        }
                      >
                        Delete
                      </button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p class="empty">{services ? 'No services.' : 'Loading…'}</p>
        )}
        {isOwner && (
          <ServiceForm
            vault={vault.name}
            credentials={(credentials ?? []).map((c) => c.key)}
            onAdded={() => void reload()}
          />
        )}
      </section>
      <DryRun vault={vault.name} id="vault-dry-run" />
    </>
  );
}
