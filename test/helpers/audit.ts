/** Audit rows of a test gateway, read once the asynchronous audit log has written them. */
import type { Gateway } from '../../src/gateway';
import type { AuditRow } from '../../src/observability/audit';

/**
 * The newest audit row of `vault` whose path is `path`, once written: the log is flushed and
 * queried until the row shows up (up to 100 tries `intervalMs` apart), else this rejects.
 */
export async function waitForAuditRow(
  gateway: Gateway,
  vault: string,
  path: string,
  intervalMs = 20,
): Promise<AuditRow> {
  for (let attempt = 0; attempt < 100; attempt++) {
    await gateway.audit.flush();
    const row = (await gateway.audit.query({ vault, limit: 1000 })).find((r) => r.path === path);
    if (row) return row;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`no audit row for ${path}`);
}
