/**
 * The benchmark's targets (benchmarks, not tests), judged on the rows of a run.
 *
 * - HTTPS through Vectra with keep-alive: ≥ 0.5× the direct req/s, ≥ 5× mitmproxy's, and
 *   under 1 ms added at p50. The added latency is judged one request at a time (conc. 1): with
 *   a fixed concurrency, p50 is mostly queueing behind other requests, so it measures the
 *   throughput again rather than the work added to one request. The loaded value is shown too.
 * - First request to a never-seen host: under 20 ms added at p50, against both a direct new
 *   connection to the same new addresses and a new tunnel through Vectra to a warm host.
 * - The full pipeline with 20 policies loaded: at least 0.85× the req/s of the same path with
 *   the policy engine disabled (./policy-comparison.ts): the median ratio of adjacent runs,
 *   without errors.
 */
import type { PolicyComparison } from './policy-comparison';
import type { Row, Target } from './report';

export interface TargetRows {
  directHttps: Row;
  vectraHttps: Row;
  /** ./bare-proxy.ts: the same path through a proxy that does nothing but intercept and forward. */
  bareHttps: Row;
  /** Undefined when mitmproxy did not run; `mitmStatus` says why. */
  mitmHttps?: Row;
  mitmStatus: string;
  directSequential: Row;
  vectraSequential: Row;
  directFirst: Row;
  vectraFirst: { fresh: Row; warm: Row };
}

const ms = (value: number) => `${value >= 0 ? '+' : ''}${value.toFixed(2)} ms`;

export function dataPlaneTargets(r: TargetRows): Target[] {
  const vectra = r.vectraHttps.stats;
  const ratio = vectra.rps / r.directHttps.stats.rps;
  const addedSequential = r.vectraSequential.stats.p50 - r.directSequential.stats.p50;
  const addedLoaded = vectra.p50 - r.directHttps.stats.p50;
  const firstVsDirect = r.vectraFirst.fresh.stats.p50 - r.directFirst.stats.p50;
  const firstVsWarm = r.vectraFirst.fresh.stats.p50 - r.vectraFirst.warm.stats.p50;
  const mitm = r.mitmHttps?.stats;
  return [
    {
      target: 'HTTPS keep-alive through Vectra ≥ 0.5× direct req/s',
      measured:
        `${ratio.toFixed(2)}× (${vectra.rps.toFixed(0)} vs ${r.directHttps.stats.rps.toFixed(0)} req/s); ` +
        `the bare Node proxy with no pipeline: ${(r.bareHttps.stats.rps / r.directHttps.stats.rps).toFixed(2)}× ` +
        `(${r.bareHttps.stats.rps.toFixed(0)} req/s), Vectra ${(vectra.rps / r.bareHttps.stats.rps).toFixed(2)}× of it`,
      pass: ratio >= 0.5,
    },
    mitm
      ? {
          target: 'HTTPS keep-alive through Vectra ≥ 5× mitmproxy req/s',
          measured: `${(vectra.rps / mitm.rps).toFixed(2)}× (${vectra.rps.toFixed(0)} vs ${mitm.rps.toFixed(0)} req/s)`,
          pass: vectra.rps / mitm.rps >= 5,
        }
      : {
          target: 'HTTPS keep-alive through Vectra ≥ 5× mitmproxy req/s',
          measured: r.mitmStatus,
          pass: undefined,
        },
    {
      target: 'HTTPS keep-alive through Vectra: < 1 ms added at p50 (conc. 1)',
      measured:
        `${ms(addedSequential)} (${r.vectraSequential.stats.p50.toFixed(2)} vs ${r.directSequential.stats.p50.toFixed(2)} ms); ` +
        `loaded (conc. ${r.vectraHttps.concurrency}): ${ms(addedLoaded)}`,
      pass: addedSequential < 1,
    },
    {
      target: 'First request to a never-seen host: < 20 ms added at p50',
      measured: `${ms(firstVsDirect)} vs a direct new connection; ${ms(firstVsWarm)} vs a new tunnel to a warm host`,
      pass: firstVsDirect < 20 && firstVsWarm < 20,
    },
  ];
}

export const POLICY_RATIO = 0.85;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function policyTarget(p: PolicyComparison): Target {
  const withPolicies = p.policies.stats;
  const disabled = p.disabled.stats;
  const pooled = withPolicies.rps / disabled.rps;
  const ratios = p.pairs.map((pair) => pair.policies / pair.disabled);
  // The verdict is the median of the adjacent pairs' ratios: on a shared machine one disturbed
  // run can move a pooled figure by 10%, but not the median.
  const ratio = median(ratios);
  const pairs = ratios.map((r) => r.toFixed(2)).join(', ');
  const cpu = (row: Row) => (row.gatewayCpuUs === undefined ? '–' : row.gatewayCpuUs.toFixed(0));
  const errors = withPolicies.failures + disabled.failures;
  return {
    target: `Full pipeline with ${p.check.policies} policies ≥ ${POLICY_RATIO}× req/s of policy disabled`,
    measured:
      `${ratio.toFixed(2)}× (median of ${p.runsEach} adjacent pairs: ${pairs}×; pooled ` +
      `${pooled.toFixed(2)}×, ${withPolicies.rps.toFixed(0)} vs ${disabled.rps.toFixed(0)} req/s); ` +
      `CPU ${cpu(p.policies)} vs ${cpu(p.disabled)} µs/req` +
      (errors > 0 ? `; ${errors} errors` : ''),
    pass: ratio >= POLICY_RATIO && errors === 0,
  };
}
