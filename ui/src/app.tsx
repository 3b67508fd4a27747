/** The shell: sign-in until a session exists, then the navigation and the current page. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { currentSession, messageOf, signOut, whenSessionEnds } from './api';
import { ActivityPage } from './pages/activity';
import { AgentsPage } from './pages/agents';
import { ApprovalsPage } from './pages/approvals';
import { PoliciesPage } from './pages/policies';
import { SignInPage } from './pages/sign-in';
import { VaultsPage } from './pages/vaults';
import { navigate, PAGES, usePage, type PagePath } from './router';
import type { SessionInfo } from './types';

type State =
  | { kind: 'loading' }
  | { kind: 'signed-out'; notice?: string }
  | { kind: 'signed-in'; session: SessionInfo };

export function App() {
  const [state, setState] = useState<State>({ kind: 'loading' });
  useEffect(() => {
    whenSessionEnds(() =>
      setState({ kind: 'signed-out', notice: 'Your session ended; sign in again.' }),
    );
    currentSession().then(
      (session) => setState(session ? { kind: 'signed-in', session } : { kind: 'signed-out' }),
      (error: unknown) => setState({ kind: 'signed-out', notice: messageOf(error) }),
    );
  }, []);

  if (state.kind === 'loading') return <p class="loading">Loading…</p>;
  if (state.kind === 'signed-out') {
    return (
      <SignInPage
        notice={state.notice}
        onSignedIn={(session) => setState({ kind: 'signed-in', session })}
      />
    );
  }
  return (
    <Shell
      session={state.session}
      onSignedOut={() => setState({ kind: 'signed-out', notice: 'Signed out.' })}
    />
  );
}

function Shell({ session, onSignedOut }: { session: SessionInfo; onSignedOut: () => void }) {
  const page = usePage();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  useEffect(() => {
    const title = PAGES.find((p) => p.path === page)!.title;
    document.title = `${title} · Vectra`;
    // Moving between pages puts the focus on the new page, as a page load would.
    if (first.current) first.current = false;
    else main.current?.focus();
  }, [page]);

  const out = async () => {
    await signOut().catch(() => undefined);
    onSignedOut();
  };

  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Vectra</span>
        <nav aria-label="Main">
          <ul>
            {PAGES.map((p) => (
              <li key={p.path}>
                <a
                  href={p.path}
                  aria-current={p.path === page ? 'page' : undefined}
                  onClick={(event) => {
                    if (event.ctrlKey || event.metaKey || event.shiftKey) return;
                    event.preventDefault();
                    navigate(p.path);
                  }}
                >
                  {p.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="who" data-testid="who">
          {session.name} <span class="role">{session.role}</span>
        </span>
        <button type="button" class="secondary" onClick={out}>
          Sign out
        </button>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        <CurrentPage page={page} session={session} />
      </main>
    </>
  );
}

function CurrentPage({ page, session }: { page: PagePath; session: SessionInfo }) {
  switch (page) {
    case '/ui/':
      return <ApprovalsPage session={session} />;
    case '/ui/agents':
      return <AgentsPage session={session} />;
    case '/ui/vaults':
      return <VaultsPage session={session} />;
    case '/ui/activity':
      return <ActivityPage />;
    case '/ui/policies':
      return <PoliciesPage />;
  }
}
