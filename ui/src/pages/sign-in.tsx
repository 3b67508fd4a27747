/** Sign-in: the admin token is sent once and exchanged for a session cookie; it is not kept. */
import { useState } from 'preact/hooks';
import { messageOf, signIn } from '../api';
import type { SessionInfo } from '../types';

export function SignInPage(props: { notice?: string; onSignedIn: (s: SessionInfo) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const session = await signIn(token.trim());
      setToken('');
      props.onSignedIn(session);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="sign-in">
      <h1>Vectra</h1>
      <form onSubmit={submit} aria-describedby="sign-in-help">
        <h2>Sign in</h2>
        {props.notice && (
          <p class="notice" role="status">
            {props.notice}
          </p>
        )}
        <label for="token">Admin token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          spellcheck={false}
          required
          autoFocus
          placeholder="vec_adm_…"
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
        />
        <p id="sign-in-help" class="help">
          The token is exchanged for a session cookie and is not stored by the browser.
        </p>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
