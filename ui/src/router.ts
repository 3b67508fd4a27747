/** Client-side routes under /ui: the path picks the page; links push history entries. */
import { useEffect, useState } from 'preact/hooks';

export const PAGES = [
  { path: '/ui/', title: 'Approvals' },
  { path: '/ui/agents', title: 'Agents' },
  { path: '/ui/vaults', title: 'Vaults' },
  { path: '/ui/activity', title: 'Activity' },
  { path: '/ui/policies', title: 'Policies' },
] as const;

export type PagePath = (typeof PAGES)[number]['path'];

function pageOf(pathname: string): PagePath {
  const trimmed = pathname.replace(/\/+$/, '');
  const found = PAGES.find((page) => page.path.replace(/\/+$/, '') === trimmed);
  return found ? found.path : '/ui/';
}

export function navigate(path: string): void {
  if (path === location.pathname) return;
  history.pushState(null, '', path);
  dispatchEvent(new PopStateEvent('popstate'));
}

export function usePage(): PagePath {
  const [page, setPage] = useState(() => pageOf(location.pathname));
  useEffect(() => {
    const update = () => setPage(pageOf(location.pathname));
    addEventListener('popstate', update);
    return () => removeEventListener('popstate', update);
  }, []);
  return page;
}
