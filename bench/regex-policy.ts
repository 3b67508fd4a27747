/**
 * Regex conditions against hostile text: the decision for one request whose path is 8 KiB of
 * `a` (the worst case for `.*a…b`), judged by a policy with a regex rule, through the Internal
 * engine's hot path (evaluatePolicies). Patterns that would backtrack polynomially are refused
 * when the policy loads, and shown so; a path over the input cap is refused without running the
 * regex. The target: every decision under 10 ms. Runs in a few seconds, alone:
 * `npx ts-node bench/regex-policy.ts [samples]` (`npm run bench` runs it at the end).
 */
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { evaluatePolicies, policySet, type PolicySet } from '../src/policy/evaluate';
import { compilePolicyText } from '../src/policy/policy-file';
import { REGEX_INPUT_LIMIT } from '../src/policy/safe-regex';
import type { PolicyInput } from '../src/policy/types';

const SAMPLES = Number(process.argv[2] ?? 200);
const WARMUP = 20;
const TARGET_MS = 10;
const INPUT = 8 * 1024;

/** The policies benchmarked: a polynomial pattern with five unbounded runs, and its neighbours. */
const PATTERNS = ['^.*a.*a.*a.*a.*b$', '^.*a.*a.*b$', '^.*a[^a]*a[^a]*b$', '^/[a-z]+/[^/]*b$'];

function policyFor(pattern: string): PolicySet | string {
  const { policy, problems } = compilePolicyText(
    'bench.json',
    JSON.stringify({
      name: 'bench-regex',
      default: 'Allow',
      rules: [
        {
          name: 'deny-by-regex',
          reason: 'Denied by the regex',
          effect: 'Deny',
          conditions: [{ field: 'request.path', operator: 'regex', value: pattern }],
        },
      ],
    }),
  );
  return policy ? policySet([policy]) : problems.map((p) => p.message).join('; ');
}

function request(path: string): PolicyInput {
  return {
    agent: { name: 'bench', id: null },
    vault: 'bench',
    request: {
      method: 'GET',
      scheme: 'https',
      host: 'api.example.com',
      port: 443,
      path,
      query: {},
      headers: {},
      bodySize: 0,
    },
    service: null,
    time: { hour: 12, weekday: 'Monday' },
  };
}

/** Milliseconds per decision over SAMPLES, after a warm-up. */
function time(set: PolicySet, input: PolicyInput): { ms: number[]; effect: string } {
  const ms: number[] = [];
  let effect = '';
  for (let i = 0; i < WARMUP + SAMPLES; i++) {
    const start = performance.now();
    effect = evaluatePolicies(set, input).effect;
    if (i >= WARMUP) ms.push(performance.now() - start);
  }
  return { ms, effect };
}

function main(): void {
  const cases: Array<[string, string]> = [
    [`/${'a'.repeat(INPUT - 1)}`, `${INPUT / 1024} KiB path of a`],
    [`/${'a'.repeat(REGEX_INPUT_LIMIT)}`, `${REGEX_INPUT_LIMIT + 1} chars (over the cap)`],
  ];
  const rows: string[] = [];
  let worst = 0;
  for (const pattern of PATTERNS) {
    const set = policyFor(pattern);
    if (typeof set === 'string') {
      const reason = set.replace(/^regex "[^"]*" /, '').replace(/[;(].*$/, '');
      rows.push(`${pattern.padEnd(22)}  refused at load: ${reason.trim()}`);
      continue;
    }
    for (const [path, label] of cases) {
      const { ms, effect } = time(set, request(path));
      const sorted = [...ms].sort((a, b) => a - b);
      const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
      // Judged on p99: a lone garbage collection is not the regex's doing.
      worst = Math.max(worst, at(0.99));
      const cells = [mean, at(0.5), at(0.99), sorted[sorted.length - 1]].map((v) =>
        v.toFixed(3).padStart(8),
      );
      rows.push(`${pattern.padEnd(22)}  ${label.padEnd(26)}${cells.join('  ')}  ${effect}`);
    }
  }
  console.log(
    `regex conditions: one decision, ${SAMPLES} samples each (after ${WARMUP} warm-up), milliseconds`,
  );
  console.log(`node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}`);
  console.log(
    `${'pattern'.padEnd(22)}  ${'input'.padEnd(26)}${['mean', 'p50', 'p99', 'max'].map((h) => h.padStart(8)).join('  ')}  decision`,
  );
  for (const row of rows) console.log(row);
  console.log(
    `target: decisions under ${TARGET_MS} ms (p99): ${worst < TARGET_MS ? 'met' : 'NOT met'} (slowest p99 ${worst.toFixed(3)} ms)`,
  );
}

main();
