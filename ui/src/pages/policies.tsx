/**
 * Policies: the dry-run tester. Which service and which decision would this request get,
 * with the policy trace and the risk score, without anything being sent upstream.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, messageOf } from '../api';
import { ErrorText } from '../components/error-text';
import type { Agent, Vault } from '../types';

interface Evaluation {
  decision: unknown;
  trace?: unknown;
  risk?: unknown;
  approval?: unknown;
  input?: unknown;
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'];

export function PoliciesPage() {
  const [agents, setAgents] = useState<Agent[]>([]);
  const [vaults, setVaults] = useState<Vault[]>([]);
  const [form, setForm] = useState({ agent: '', vault: '', method: 'GET', url: '', body: '' });
  const [result, setResult] = useState<Evaluation>();
  const [error, setError] = useState<string>();

  useEffect(() => {
    Promise.all([
      api<{ agents: Agent[] }>('GET', '/v1/agents'),
      api<{ vaults: Vault[] }>('GET', '/v1/vaults'),
    ]).then(
      ([a, v]) => {
        setAgents(a.agents);
        setVaults(v.vaults);
        setForm((f) => ({
          ...f,
          agent: f.agent || a.agents[0]?.name || '',
          vault: f.vault || a.agents[0]?.vaults[0] || v.vaults[0]?.name || '',
        }));
      },
      (err: unknown) => setError(messageOf(err)),
    );
  }, []);

  const set = (field: keyof typeof form) => (e: { currentTarget: { value: string } }) =>
    setForm((f) => ({ ...f, [field]: e.currentTarget.value }));

  const submit = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    setResult(undefined);
    try {
      const request: Record<string, unknown> = {
        agent: form.agent,
        vault: form.vault,
        method: form.method,
        url: form.url.trim(),
      };
      if (form.body) request.body = form.body;
      setResult(await api<Evaluation>('POST', '/v1/policy/evaluate', request));
    } catch (err) {
      setError(messageOf(err));
    }
  };

  return (
    <section aria-labelledby="policies-title">
      <h1 id="policies-title">Policies</h1>
      <p class="help">
        Policies are files in the gateway's policy directory (read-only here). Test what a request
        would get: nothing is sent upstream.
      </p>
      <form class="card grid" onSubmit={submit} aria-labelledby="dry-run-title">
        <h2 id="dry-run-title">Dry run</h2>
        <label for="dr-agent">Agent</label>
        <select id="dr-agent" value={form.agent} onChange={set('agent')}>
          {agents.map((a) => (
            <option key={a.name} value={a.name}>
              {a.name}
            </option>
          ))}
        </select>
        <label for="dr-vault">Vault</label>
        <select id="dr-vault" value={form.vault} onChange={set('vault')}>
          {vaults.map((v) => (
            <option key={v.name} value={v.name}>
              {v.name}
            </option>
          ))}
        </select>
        <label for="dr-method">Method</label>
        <select id="dr-method" value={form.method} onChange={set('method')}>
          {METHODS.map((m) => (
            <option key={m}>{m}</option>
          ))}
        </select>
        <label for="dr-url">URL</label>
        <input
          id="dr-url"
          type="url"
          required
          placeholder="https://api.example.com/v1/things"
          value={form.url}
          onInput={set('url')}
        />
        <label for="dr-body">Body (optional)</label>
        <textarea id="dr-body" rows={4} value={form.body} onInput={set('body')} />
        <button type="submit">Evaluate</button>
      </form>
      <ErrorText error={error} />
      {result && (
        <section aria-labelledby="dr-result" class="card">
          <h2 id="dr-result">Result</h2>
          <pre data-testid="dry-run-result">{JSON.stringify(result, null, 2)}</pre>
        </section>
      )}
    </section>
  );
}
