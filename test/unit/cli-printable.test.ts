import { approvalBlock, approvalDetails } from '../../src/cli/approval-text';
import { printable } from '../../src/cli/printable';
import type { Approval } from '../../src/approvals/types';

describe('agent text printed on the terminal', () => {
  it('shows escape sequences, C1 controls, bidi and invisible characters by code point', () => {
    expect(printable('a\u001b[2Jb')).toBe('a[U+001B][2Jb');
    expect(printable('\u009b31m red')).toBe('[U+009B]31m red');
    expect(printable('amount \u202E0001')).toBe('amount [U+202E]0001');
    expect(printable('zero\u200Bwidth\uFEFF')).toBe('zero[U+200B]width[U+FEFF]');
    expect(printable('line one\n\ttabbed')).toBe('line one\n\ttabbed');
  });

  it("approvals show and watch never pass an agent's escape sequence through", () => {
    const approval = {
      id: 'apr_1',
      status: 'pending',
      agent: 'bot',
      vault: 'v',
      service: null,
      method: 'POST',
      url: 'https://api.example.com/x',
      headers: { 'x-note': 'hi\u001b]0;owned\u0007' },
      bodySha256: '0'.repeat(64),
      bodySize: 9,
      bodyPreview: 'pay \u202E0001',
      explanation: 'needs review',
      reasons: [],
      risk: null,
      createdAt: '2030-01-01T00:00:00.000Z',
      expiresAt: '2030-01-01T01:00:00.000Z',
      decidedAt: null,
      decidedBy: null,
      scope: null,
      comment: null,
      usedAt: null,
      revokedAt: null,
      path: '/x',
      pathPattern: null,
    } as unknown as Approval;
    for (const text of [approvalDetails(approval), approvalBlock(approval)]) {
      const codes = [...text].map((ch) => ch.codePointAt(0)!);
      const unsafe = codes.filter(
        (c) =>
          (c < 0x20 && c !== 0x0a && c !== 0x09) ||
          (c >= 0x7f && c <= 0x9f) ||
          (c >= 0x202a && c <= 0x202e),
      );
      expect(unsafe).toEqual([]);
    }
    expect(approvalDetails(approval)).toContain('pay [U+202E]0001');
    expect(approvalDetails(approval)).toContain('x-note: hi[U+001B]]0;owned[U+0007]');
  });
});
