/**
 * The dry-run tester: which service and which policy decision a request would get (`POST
 * /v1/policy/evaluate`); nothing is sent upstream. Used by the Policies and Vaults pages.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, messageOf } from '../api';
import { ErrorText } from './error-text';
import type { Agent, Vault } from '../types';

interface Evaluation {
  decision?: { effect?: string; reason?: string; policy?: string };
  input?: { service?: { name: string } | null };
  risk?: unknown;
  approval?: unknown;
  trace?: unknown;
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'];

export function DryRun({ vault: fixedVault, id }: { vault?: string; id: string }) {
  const [agents, setAgents] = useState<Agent[]>([]);
  const [vaults, setVaults] = useState<Vault[]>([]);
  const [form, setForm] = useState({
    agent: '',
    vault: fixedVault ?? '',
    method: 'GET',
    url: '',
    body: '',
  });
  const [result, setResult] = useState<Evaluation>();
  const [error, setError] = useState<string>();

  useEffect(() => {
    Promise.all([
      api<{ agents: Agent[] }>('GET', '/v1/agents'),
      api<{ vaults: Vault[] }>('GET', '/v1/vaults'),
    ]).then(
      ([a, v]) => {
        const usable = fixedVault
          ? a.agents.filter((x) => x.vaults.includes(fixedVault))
          : a.agents;
        setAgents(usable);
        setVaults(v.vaults);
        setForm((f) => ({
          ...f,
          agent: f.agent || usable[0]?.name || '',
          vault: f.vault || usable[0]?.vaults[0] || v.vaults[0]?.name || '',
        }));
      },
      (err: unknown) => setError(messageOf(err)),
    );
  }, [fixedVault]);

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
      if (form.body) {
        request.bodyText = form.body;
        request.headers = { 'content-type': 'application/json' };
      }
      setResult(await api<Evaluation>('POST', '/v1/policy/evaluate', request));
    } catch (err) {
      setError(messageOf(err));
    }
  };

  return (
    <>
      <form class="card grid" onSubmit={submit} aria-labelledby={`${id}-title`}>
        <h2 id={`${id}-title`}>
          {fixedVault ? 'Which service and decision would this URL get?' : 'Dry run'}
        </h2>
        <label for={`${id}-agent`}>Agent</label>
        <select id={`${id}-agent`} value={form.agent} onChange={set('agent')}>
          {agents.map((a) => (
            <option key={a.name} value={a.name}>
              {a.name}
            </option>
          ))}
        </select>
        {!fixedVault && (
          <>
            <label for={`${id}-vault`}>Vault</label>
            <select id={`${id}-vault`} value={form.vault} onChange={set('vault')}>
              {vaults.map((v) => (
                <option key={v.name} value={v.name}>
                  {v.name}
                </option>
              ))}
            </select>
          </>
        )}
        <label for={`${id}-method`}>Method</label>
        <select id={`${id}-method`} value={form.method} onChange={set('method')}>
          {METHODS.map((m) => (
            <option key={m}>{m}</option>
          ))}
        </select>
        <label for={`${id}-url`}>URL</label>
        <input
          id={`${id}-url`}
          type="url"
          required
          placeholder="https://api.example.com/v1/things"
          value={form.url}
          onInput={set('url')}
        />
        <label for={`${id}-body`}>Body (optional)</label>
        <textarea id={`${id}-body`} rows={3} value={form.body} onInput={set('body')} />
        <button type="submit">Evaluate</button>
      </form>
      <ErrorText error={error} />
      {result && (
        <section aria-labelledby={`${id}-result`} class="card" data-testid="dry-run-result">
          <h3 id={`${id}-result`}>Result</h3>
          <dl class="facts">
            <dt>Service</dt>
            <dd>{result.input?.service ? result.input.service.name : 'none matched'}</dd>
            <dt>Decision</dt>
            <dd>
              <strong>{result.decision?.effect ?? '?'}</strong>
              {result.decision?.reason ? `: ${result.decision.reason}` : ''}
            </dd>
          </dl>
          <details>
            <summary>Trace, risk and approval</summary>
            <pre>{JSON.stringify(result, null, 2)}</pre>
          </details>
        </section>
      )}
    </>
  );
}
