import { effectiveStatus } from '../../src/approvals/approval-service';
import type { Approval } from '../../src/approvals/types';

const at = (iso: string) => Date.parse(iso);

function approval(fields: Partial<Approval>): Approval {
  return {
    status: 'pending',
    expiresAt: '2030-01-01T01:00:00.000Z',
    decidedAt: null,
    scope: null,
    ...fields,
  } as Approval;
}

describe("an approval's effective status", () => {
  it('a pending approval is expired from its expiry on, whether or not a tick recorded it', () => {
    const pending = approval({});
    expect(effectiveStatus(pending, at('2030-01-01T00:59:59.999Z'))).toBe('pending');
    expect(effectiveStatus(pending, at('2030-01-01T01:00:00.000Z'))).toBe('expired');
  });

  it('an approved once approval is usable for the window after its decision, then expired', () => {
    const approved = approval({
      status: 'approved',
      scope: 'once',
      decidedAt: '2030-01-01T00:30:00.000Z',
    });
    const hour = 3_600_000;
    expect(effectiveStatus(approved, at('2030-01-01T01:29:59.999Z'), hour)).toBe('approved');
    expect(effectiveStatus(approved, at('2030-01-01T01:30:00.000Z'), hour)).toBe('expired');
  });

  it('standing approvals and decided ones keep their status', () => {
    const always = approval({
      status: 'approved',
      scope: 'always',
      decidedAt: '2000-01-01T00:00:00.000Z',
    });
    expect(effectiveStatus(always, at('2030-06-01T00:00:00.000Z'), 1000)).toBe('approved');
    for (const status of ['denied', 'used', 'expired'] as const) {
      expect(effectiveStatus(approval({ status }), at('2031-01-01T00:00:00.000Z'), 1)).toBe(status);
    }
  });
});
