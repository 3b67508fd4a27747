/**
 * The approvals queue, live from `GET /v1/approvals/events`: every pending request with who
 * sent it, where, why it needs a human and its risk factors, and the time left; owners and
 * approvers approve (once, for N minutes, always) or deny with a reason. Standing approvals are
 * listed below and can be revoked. Keyboard: j/k move, a approves once, m for N minutes,
 * w always, d goes to the deny reason.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, confirmSession, messageOf } from '../api';
import type { Approval, ApprovalEvent, SessionInfo } from '../types';
import { useNow, timeLeft } from '../time';
import { visibleApproval } from '../visible';

type Connection = 'connecting' | 'live' | 'reconnecting';

export function ApprovalsPage({ session }: { session: SessionInfo }) {
  const canDecide = session.role !== 'auditor';
  const [pending, setPending] = useState<Approval[]>([]);
  const [connection, setConnection] = useState<Connection>('connecting');
  const [announcement, setAnnouncement] = useState('');
  const [selected, setSelected] = useState(0);
  const [standingVersion, setStandingVersion] = useState(0);
  const now = useNow();

  useEffect(() => {
    let source: EventSource | undefined;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const open = () => {
      source = new EventSource('/v1/approvals/events');
      source.addEventListener('open', () => setConnection('live'));
      source.addEventListener('error', () => {
        setConnection('reconnecting');
        // A refused stream is not retried by the browser: the session may have ended (then
        // the app signs out), or the gateway restarted (then open it again).
        if (source?.readyState !== EventSource.CLOSED) return;
        void confirmSession().then((live) => {
          if (live && !stopped) retry = setTimeout(open, 3000);
        });
      });
      source.addEventListener('pending', (event) => {
        const data = JSON.parse((event as MessageEvent<string>).data) as {
          approvals: Approval[];
        };
        setPending(
          sortByExpiry(data.approvals.filter((a) => a.status === 'pending').map(visibleApproval)),
        );
      });
      source.addEventListener('approval', (event) => {
        const { type, approval: sent } = JSON.parse(
          (event as MessageEvent<string>).data,
        ) as ApprovalEvent;
        const approval = visibleApproval(sent);
        if (type === 'created') {
          setPending((list) =>
            list.some((a) => a.id === approval.id) ? list : sortByExpiry([...list, approval]),
          );
          setAnnouncement(
            `New approval: ${approval.method} ${approval.url} from ${approval.agent}`,
          );
          notify(approval);
        } else {
          setPending((list) => list.filter((a) => a.id !== approval.id));
        }
        if (type === 'approved' || type === 'revoked') setStandingVersion((v) => v + 1);
      });
    };
    open();
    return () => {
      stopped = true;
      clearTimeout(retry);
      source?.close();
    };
  }, []);

  const live = pending.filter((a) => Date.parse(a.expiresAt) > now);
  const current = Math.min(selected, Math.max(0, live.length - 1));

  const onDecided = useCallback((id: string, text: string) => {
    setPending((list) => list.filter((a) => a.id !== id));
    setAnnouncement(text);
    setStandingVersion((v) => v + 1);
  }, []);

  useShortcuts(live.length, current, setSelected);

  return (
    <section aria-labelledby="approvals-title">
      <div class="page-head">
        <h1 id="approvals-title">Approvals</h1>
        <span class={`connection ${connection}`} data-testid="connection">
          {connection === 'live'
            ? 'Live'
            : connection === 'connecting'
              ? 'Connecting…'
              : 'Reconnecting…'}
        </span>
        <NotificationButton />
      </div>
      <p class="sr-only" role="status" aria-live="polite">
        {announcement}
      </p>
      {canDecide ? (
        <p class="help">
          Keys: <kbd>j</kbd>/<kbd>k</kbd> next/previous, <kbd>a</kbd> approve once, <kbd>m</kbd>{' '}
          approve for the minutes given, <kbd>w</kbd> approve always, <kbd>d</kbd> deny (type the
          reason, then Enter).
        </p>
      ) : (
        <p class="help">Your role ({session.role}) can read approvals but not decide them.</p>
      )}
      <h2>Waiting for a decision ({live.length})</h2>
      {live.length === 0 ? (
        <p class="empty">Nothing is waiting. New requests appear here as they are held.</p>
      ) : (
        <ol class="queue">
          {live.map((approval, index) => (
            <li key={approval.id}>
              <PendingApproval
                approval={approval}
                now={now}
                canDecide={canDecide}
                selected={index === current}
                onSelect={() => setSelected(index)}
                onDecided={onDecided}
              />
            </li>
          ))}
        </ol>
      )}
      <StandingApprovals canDecide={canDecide} version={standingVersion} />
    </section>
  );
}

function sortByExpiry(list: Approval[]): Approval[] {
  return [...list].sort((a, b) => Date.parse(a.expiresAt) - Date.parse(b.expiresAt));
}

function notify(approval: Approval): void {
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  if (!document.hidden) return;
  new Notification('Vectra: approval needed', {
    body: `${approval.agent}: ${approval.method} ${approval.url}`,
    tag: approval.id,
  });
}

function NotificationButton() {
  const supported = 'Notification' in window;
  const [permission, setPermission] = useState(supported ? Notification.permission : 'denied');
  if (!supported || permission !== 'default') return null;
  return (
    <button
      type="button"
      class="secondary"
      onClick={() => Notification.requestPermission().then(setPermission)}
    >
      Notify me of new approvals
    </button>
  );
}

/** j/k select; a, m, w and d press the selected approval's buttons. */
function useShortcuts(count: number, current: number, select: (index: number) => void) {
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      const target = event.target as HTMLElement;
      if (target.closest('input, textarea, select, [contenteditable]')) return;
      const card = document.querySelector<HTMLElement>('.queue .approval.selected');
      const press = (action: string) =>
        card?.querySelector<HTMLElement>(`[data-action="${action}"]`)?.click();
      switch (event.key) {
        case 'j':
          select(Math.min(count - 1, current + 1));
          break;
        case 'k':
          select(Math.max(0, current - 1));
          break;
        case 'a':
          press('once');
          break;
        case 'm':
          press('session');
          break;
        case 'w':
          press('always');
          break;
        case 'd':
          card?.querySelector<HTMLInputElement>('[data-action="reason"]')?.focus();
          break;
        default:
          return;
      }
      event.preventDefault();
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, [count, current, select]);
}

function PendingApproval(props: {
  approval: Approval;
  now: number;
  canDecide: boolean;
  selected: boolean;
  onSelect: () => void;
  onDecided: (id: string, text: string) => void;
}) {
  const { approval, now, canDecide, selected } = props;
  const [minutes, setMinutes] = useState(60);
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const self = useRef<HTMLElement>(null);
  useEffect(() => {
    if (selected) self.current?.scrollIntoView?.({ block: 'nearest' });
  }, [selected]);

  const decide = async (path: string, body: unknown, text: string) => {
    setBusy(true);
    setError(undefined);
    try {
      await api('POST', `/v1/approvals/${encodeURIComponent(approval.id)}/${path}`, body);
      props.onDecided(approval.id, text);
    } catch (err) {
      setError(messageOf(err));
      setBusy(false);
    }
  };
  const label = `${approval.method} ${approval.url}`;
  const titleId = `approval-${approval.id}`;

  return (
    <article
      ref={self}
      class={`approval${selected ? ' selected' : ''}`}
      aria-labelledby={titleId}
      data-approval-id={approval.id}
      onFocusCapture={props.onSelect}
      onClick={props.onSelect}
    >
      <header>
        <h3 id={titleId}>
          <span class={`method m-${approval.method.toLowerCase()}`}>{approval.method}</span>{' '}
          <span class="url">{approval.url}</span>
        </h3>
        <span class="time-left" aria-label="Time left">
          {timeLeft(approval.expiresAt, now)} left
        </span>
      </header>
      <dl class="facts">
        <dt>Agent</dt>
        <dd>{approval.agent}</dd>
        <dt>Vault</dt>
        <dd>{approval.vault}</dd>
        <dt>Service</dt>
        <dd>{approval.service ?? '—'}</dd>
        <dt>Why</dt>
        <dd class="explanation">{approval.explanation}</dd>
        <dt>Risk</dt>
        <dd>
          {approval.risk === null ? 'not scored' : approval.risk.toFixed(2)}
          {approval.reasons.length > 0 && (
            <ul class="reasons">
              {approval.reasons.map((reason) => (
                <li key={reason}>{reason}</li>
              ))}
            </ul>
          )}
        </dd>
      </dl>
      {approval.bodyPreview !== null && (
        <details open>
          <summary>Body ({approval.bodySize} bytes)</summary>
          <pre class="body-preview">{approval.bodyPreview}</pre>
        </details>
      )}
      {canDecide && (
        <div class="actions" role="group" aria-label={`Decide ${label}`}>
          <button
            type="button"
            data-action="once"
            disabled={busy}
            onClick={() => decide('approve', { scope: 'once' }, `Approved once: ${label}`)}
          >
            Approve once
          </button>
          <span class="inline">
            <label for={`${titleId}-minutes`}>Minutes</label>
            <input
              id={`${titleId}-minutes`}
              type="number"
              min={1}
              max={10080}
              value={minutes}
              onInput={(e) => setMinutes(Number(e.currentTarget.value))}
            />
            <button
              type="button"
              data-action="session"
              disabled={busy || !(minutes >= 1)}
              onClick={() =>
                decide(
                  'approve',
                  { scope: 'session', minutes },
                  `Approved for ${minutes} minutes: ${label}`,
                )
              }
            >
              Approve for {minutes} min
            </button>
          </span>
          <button
            type="button"
            data-action="always"
            disabled={busy}
            onClick={() => decide('approve', { scope: 'always' }, `Approved always: ${label}`)}
          >
            Approve always
          </button>
          <form
            class="inline deny"
            onSubmit={(event) => {
              event.preventDefault();
              if (reason.trim()) decide('deny', { reason: reason.trim() }, `Denied: ${label}`);
            }}
          >
            <label for={`${titleId}-reason`}>Reason for denying</label>
            <input
              id={`${titleId}-reason`}
              data-action="reason"
              type="text"
              maxLength={2000}
              required
              value={reason}
              onInput={(e) => setReason(e.currentTarget.value)}
            />
            <button type="submit" class="danger" disabled={busy || !reason.trim()}>
              Deny
            </button>
          </form>
        </div>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </article>
  );
}

function StandingApprovals({ canDecide, version }: { canDecide: boolean; version: number }) {
  const [standing, setStanding] = useState<Approval[]>();
  const [error, setError] = useState<string>();
  const load = useCallback(() => {
    api<{ standing: Approval[] }>('GET', '/v1/approvals/standing').then(
      (answer) => {
        setStanding(answer.standing.map(visibleApproval));
        setError(undefined);
      },
      (err: unknown) => setError(messageOf(err)),
    );
  }, []);
  useEffect(load, [load, version]);

  const revoke = async (approval: Approval) => {
    try {
      await api('DELETE', `/v1/approvals/standing/${encodeURIComponent(approval.id)}`);
      load();
    } catch (err) {
      setError(messageOf(err));
    }
  };

  return (
    <section aria-labelledby="standing-title">
      <h2 id="standing-title">Standing approvals</h2>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {standing === undefined ? (
        <p>Loading…</p>
      ) : standing.length === 0 ? (
        <p class="empty">No standing approvals.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Agent</th>
              <th scope="col">Vault</th>
              <th scope="col">Request</th>
              <th scope="col">Scope</th>
              <th scope="col">Until</th>
              <th scope="col">Approved by</th>
              {canDecide && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {standing.map((approval) => (
              <tr key={approval.id}>
                <td>{approval.agent}</td>
                <td>{approval.vault}</td>
                <td>
                  <code>{standingTarget(approval)}</code>
                </td>
                <td>{approval.scope}</td>
                <td>
                  {approval.standingUntil
                    ? new Date(approval.standingUntil).toLocaleString()
                    : 'until revoked'}
                </td>
                <td>{approval.decidedBy?.name ?? '—'}</td>
                {canDecide && (
                  <td>
                    <button
                      type="button"
                      class="secondary"
                      aria-label={`Revoke ${standingTarget(approval)} for ${approval.agent}`}
                      onClick={() => revoke(approval)}
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

/** What a standing approval covers: method, host (with a port other than the default) and path pattern. */
function standingTarget(approval: Approval): string {
  const defaultPort = approval.scheme === 'https' ? 443 : 80;
  const host = approval.port === defaultPort ? approval.host : `${approval.host}:${approval.port}`;
  return `${approval.method} ${host}${approval.pathPattern ?? approval.path}`;
}
