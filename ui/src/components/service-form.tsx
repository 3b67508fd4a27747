/** Adds a service to a vault: name, host pattern, scheme and how the credential is sent. */
import { useState } from 'preact/hooks';
import { api, messageOf } from '../api';
import { ErrorText } from './error-text';

const AUTH_TYPES = ['bearer', 'api-key', 'basic', 'query', 'passthrough'] as const;
type AuthType = (typeof AUTH_TYPES)[number];

export function ServiceForm(props: { vault: string; credentials: string[]; onAdded: () => void }) {
  const [name, setName] = useState('');
  const [host, setHost] = useState('');
  const [scheme, setScheme] = useState('https');
  const [type, setType] = useState<AuthType>('bearer');
  const [fields, setFields] = useState<Record<string, string>>({});
  const [error, setError] = useState<string>();
  const field = (key: string) => fields[key] ?? '';
  const setField = (key: string) => (e: { currentTarget: { value: string } }) =>
    setFields((f) => ({ ...f, [key]: e.currentTarget.value }));

  const auth = (): Record<string, unknown> => {
    switch (type) {
      case 'bearer':
        return { type, credential: field('credential') };
      case 'api-key':
        return {
          type,
          header: field('header'),
          credential: field('credential'),
          ...(field('prefix') ? { prefix: field('prefix') } : {}),
        };
      case 'basic':
        return { type, username: field('username'), password: field('password') };
      case 'query':
        return { type, param: field('param'), credential: field('credential') };
      case 'passthrough':
        return { type };
    }
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    try {
      await api('POST', `/v1/vaults/${encodeURIComponent(props.vault)}/services`, {
        name: name.trim(),
        host: host.trim(),
        scheme,
        auth: auth(),
      });
      setName('');
      setHost('');
      setFields({});
      props.onAdded();
    } catch (err) {
      setError(messageOf(err));
    }
  };

  const credentialSelect = (key: string, label: string) => (
    <>
      <label for={`svc-${key}`}>{label}</label>
      <select id={`svc-${key}`} required value={field(key)} onChange={setField(key)}>
        <option value="">Choose a credential…</option>
        {props.credentials.map((c) => (
          <option key={c}>{c}</option>
        ))}
      </select>
    </>
  );
  const text = (key: string, label: string, placeholder = '', required = true) => (
    <>
      <label for={`svc-${key}`}>{label}</label>
      <input
        id={`svc-${key}`}
        required={required}
        placeholder={placeholder}
        value={field(key)}
        onInput={setField(key)}
      />
    </>
  );

  return (
    <form class="card grid" onSubmit={submit} aria-labelledby="add-service-title">
      <h3 id="add-service-title">Add a service</h3>
      <label for="svc-name">Name</label>
      <input id="svc-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
      <label for="svc-host">Host pattern</label>
      <input
        id="svc-host"
        required
        placeholder="api.example.com, *.example.com:8443, api.example.com/v1/*"
        value={host}
        onInput={(e) => setHost(e.currentTarget.value)}
      />
      <label for="svc-scheme">Scheme</label>
      <select id="svc-scheme" value={scheme} onChange={(e) => setScheme(e.currentTarget.value)}>
        <option>https</option>
        <option>http</option>
      </select>
      <label for="svc-auth">Credential sent as</label>
      <select
        id="svc-auth"
        value={type}
        onChange={(e) => setType(e.currentTarget.value as AuthType)}
      >
        {AUTH_TYPES.map((t) => (
          <option key={t}>{t}</option>
        ))}
      </select>
      {type === 'bearer' && credentialSelect('credential', 'Credential')}
      {type === 'api-key' && (
        <>
          {text('header', 'Header', 'X-Api-Key')}
          {text('prefix', 'Prefix (optional)', '', false)}
          {credentialSelect('credential', 'Credential')}
        </>
      )}
      {type === 'basic' && (
        <>
          {credentialSelect('username', 'Username credential')}
          {credentialSelect('password', 'Password credential')}
        </>
      )}
      {type === 'query' && (
        <>
          {text('param', 'Query parameter', 'api_key')}
          {credentialSelect('credential', 'Credential')}
        </>
      )}
      <ErrorText error={error} />
      <button type="submit">Add service</button>
    </form>
  );
}
