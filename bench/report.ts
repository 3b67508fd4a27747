/**
 * Numbers and words of the benchmark: percentiles, the results table (the same Markdown on the
 * console and in docs/benchmarks.md), the targets (./targets.ts) with PASS/FAIL, and the document.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import type { PolicyCheck } from './policies';
import type { Samples } from './protocol';

export interface Stats {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  failures: number;
  firstFailure?: string;
}

export function stats(samples: Samples): Stats {
  const sorted = [...samples.latenciesMs].sort((a, b) => a - b);
  // Nearest rank: the smallest sample with at least q of them at or below it.
  const at = (q: number) =>
    sorted.length === 0 ? NaN : sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
  return {
    requests: sorted.length,
    rps: samples.elapsedMs > 0 ? (sorted.length * 1000) / samples.elapsedMs : NaN,
    p50: at(0.5),
    p99: at(0.99),
    failures: samples.failures,
    firstFailure: samples.firstFailure,
  };
}

export interface Row {
  name: string;
  concurrency: number;
  stats: Stats;
  /** The direct row this one is compared with. */
  baseline?: Row;
  /** The gateway's CPU time per request (user + system), for rows through Vectra. */
  gatewayCpuUs?: number;
  /** What the upstream saw: requests, and whether each carried the injected credential. */
  check?: string;
  /** Requests per second are meaningless for strictly sequential latency runs. */
  latencyOnly?: boolean;
}

const fixed = (value: number, digits: number) =>
  Number.isFinite(value) ? value.toFixed(digits) : '–';

function markdownTable(header: string[], rows: string[][], align: Array<'l' | 'r'>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const pad = (cells: string[]) =>
    `| ${cells.map((c, i) => (align[i] === 'r' ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (align[i] === 'r' ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [pad(header), rule, ...rows.map(pad)].join('\n');
}

export function resultsTable(rows: Row[]): string {
  const header = [
    'Scenario',
    'conc.',
    'requests',
    'req/s',
    'p50 ms',
    'p99 ms',
    'req/s ÷ direct',
    'p50 added ms',
    'Vectra CPU µs/req',
    'errors',
    'upstream check',
  ];
  const cells = rows.map((row) => {
    const s = row.stats;
    const b = row.baseline?.stats;
    return [
      row.name,
      String(row.concurrency),
      String(s.requests),
      row.latencyOnly ? '–' : fixed(s.rps, 0),
      fixed(s.p50, 2),
      fixed(s.p99, 2),
      b && !row.latencyOnly ? `${fixed(s.rps / b.rps, 2)}×` : '',
      b ? fixed(s.p50 - b.p50, 2) : '',
      row.gatewayCpuUs === undefined ? '' : fixed(row.gatewayCpuUs, 0),
      s.failures === 0 ? '0' : `${s.failures} (${s.firstFailure ?? ''})`,
      row.check ?? '',
    ];
  });
  return markdownTable(header, cells, ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'l']);
}

export interface Target {
  target: string;
  measured: string;
  /** undefined: could not be measured (the reason is in `measured`). */
  pass: boolean | undefined;
}

export function targetsTable(targets: Target[]): string {
  return markdownTable(
    ['Target', 'Measured', 'Verdict'],
    targets.map((t) => [
      t.target,
      t.measured,
      t.pass === undefined ? 'n/a' : t.pass ? 'PASS' : 'FAIL',
    ]),
    ['l', 'l', 'l'],
  );
}

export interface Machine {
  cpu: string;
  cores: number;
  node: string;
  os: string;
  date: string;
  mitmproxy: string;
  /** The commit measured, and whether src/ had uncommitted changes (a shared tree). */
  revision: string;
  /** 1-minute load average before and after the run: others competing for the cores. */
  load: { before: number; after: number };
}

/** `abc1234`, `abc1234 + uncommitted src/ changes`, or `unknown revision` outside git. */
function revisionOf(root: string): string {
  try {
    const git = (...args: string[]) =>
      execFileSync('git', args, {
        cwd: root,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
    const commit = git('rev-parse', '--short', 'HEAD').trim();
    const dirty = git('status', '--porcelain', '--', 'src').trim() !== '';
    return dirty ? `${commit} + uncommitted src/ changes` : commit;
  } catch {
    return 'unknown revision';
  }
}

export function describeMachine(mitmproxy: string, loadBefore: number, root: string): Machine {
  let cpu = cpus()[0]?.model ?? 'unknown';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) cpu = line.split(':')[1].trim();
  } catch {
    // Not Linux: os.cpus() said enough.
  }
  return {
    cpu,
    cores: cpus().length,
    node: process.version,
    os: `${process.platform} ${release()}`,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    mitmproxy,
    revision: revisionOf(root),
    load: { before: loadBefore, after: loadavg()[0] },
  };
}

/** One line: what ran where, and how busy the machine already was. */
export function machineLine(m: Machine): string {
  const load = `load average ${m.load.before.toFixed(2)} before, ${m.load.after.toFixed(2)} after`;
  return `${m.date} · Vectra ${m.revision} · ${m.cpu} · ${m.cores} cores · Node ${m.node} · ${m.os} · ${m.mitmproxy} · ${load}`;
}

/** A load average this high means other work shared the cores: the numbers are pessimistic. */
export const BUSY_LOAD = 0.5;

export interface Document {
  machine: Machine;
  settings: string;
  results: string;
  targets: string;
  leafMint?: string;
  /** bench/regex-policy.ts's output. */
  regex?: string;
  /** What the engine made of the 20 bench policies for the bench request. */
  policyCheck: PolicyCheck;
}

export function benchmarksDocument(doc: Document): string {
  const m = doc.machine;
  const p = doc.policyCheck;
  return `# Benchmarks

Measured by \`npm run bench\` (never part of \`npm test\`), which builds (\`dist/\`, and the
benchmark itself into \`dist/bench/\`), runs every scenario below under plain \`node\` and
rewrites this file with the latest numbers. A run takes about three minutes;
\`npm run bench -- --seconds 2 --no-write\` is a quick look that leaves this file alone, and
\`npm run bench -- --seconds 2 --only-policy\` runs the policy comparison alone
(\`--help\` lists the options). A change on the request path is held against the build before
it with \`npm run bench -- --baseline DIR --seconds 3 --policy-runs 12\` (DIR: a checkout of the
earlier commit after \`npm run build\`): both builds run in one process, HTTPS keep-alive in
ABBA order, judged on the median ratio of adjacent pairs; single pairs vary by ±25 % on this
VM, so one short run proves little. Traffic stays on 127.0.0.0/8.

## Set-up

- **Upstream** (\`bench/upstream.ts\`, its own process): \`node:http\` and \`node:https\` on
  127.0.0.1, port 0, keep-alive, a 61-byte JSON answer; a certificate (RSA 2048) from a
  throwaway CA, valid for 127.0.0.1 and every extra 127.0.0.x/127.0.1.x address, each of which
  gets its own HTTPS listener for the first-request-to-a-new-host runs. It counts the requests
  per scenario and how many carried the injected credential ("upstream check").
- **Vectra** (in the orchestrator \`bench/run.ts\`, started with \`startGateway\` from the
  compiled \`dist/\`): SQLite in a temporary data directory, memory cache, file logging off,
  log level Warning, \`System.Proxy.UpstreamCaFile\` = the upstream's CA,
  \`System.Proxy.NetworkAllowlist\` = \`127.0.0.0/8,::1/128\`, the per-agent rate limit raised
  out of the way (\`System.RateLimit.DefaultRequestsPerMinute\`), everything else default
  (policies from \`policies/\`). One vault
  with a \`bearer\` service for 127.0.0.1 and one agent, so every request runs the whole
  pipeline: authenticate, resolveService, inject (credential decrypted from the vault),
  forward, and the echo redaction of the response.
- **Load generator** (\`bench/load.ts\`, its own process): \`node:http\`/\`node:https\` agents; a
  fixed number of workers, one request at a time each, for a fixed time after a warm-up.
  Through a proxy it speaks as agents do: absolute-form \`GET http://…\` with
  \`Proxy-Authorization\`, or \`CONNECT host:port\` and then TLS, trusting the proxy's CA
  (Vectra's from \`GET /v1/ca.pem\`). "New connection" means a new TCP connection, CONNECT and
  TLS handshake for every request, without TLS session resumption.
- **mitmproxy** (\`mitmdump\`, regular proxy mode, quiet, \`ssl_insecure=false\`, upstream
  verified with \`ssl_verify_upstream_trusted_ca\`): the same requests; it injects nothing.
- **Reference: bare Node proxy** (\`bench/bare-proxy.ts\`, in the orchestrator like Vectra):
  CONNECT, TLS with one fixed certificate, Node's HTTP parser, the credential set as a header, a
  pooled keep-alive HTTPS request upstream, piped back; no authentication, pipeline, SSRF
  check, audit or redaction. It is the floor for any proxy built on Node's \`http\`/\`tls\` on
  this machine, and shows how much of the gap to direct is the proxy hop itself (two more TLS
  sessions and HTTP parses per request, on cores the load generator and upstream also use)
  rather than Vectra's pipeline.
- **First request to a new host**: strictly one request at a time, each on a new connection;
  every request to a never-seen address (127.0.0.x through Vectra, 127.0.1.x through
  mitmproxy, so each proxy mints a new leaf certificate) is followed by one to the warm host
  127.0.0.1. "Added" is compared both with the direct request to the same new address and with
  the same proxy's request to the warm host (the leaf certificate and the first upstream
  connection are then the whole difference).
- **Added latency at p50** for keep-alive is taken from the one-request-at-a-time runs
  (\`conc. 1\`): under load with a fixed concurrency, p50 is mostly queueing, so a slower
  path shows a larger p50 without adding that much work per request. The loaded numbers are in
  the table too.
- **Vectra CPU µs/req**: CPU time (user + system, all threads) of the process hosting Vectra
  while the scenario ran, divided by the requests the upstream saw (warm-up included). The
  orchestrator does nothing else meanwhile, so this is the gateway's cost per request, and it
  is less sensitive to other load on the machine than req/s.
- **Full pipeline with ${p.policies} policies** (\`bench/policy-comparison.ts\`): two more
  Vectra instances, set up like the one above and differing only in their \`Policy\` section:
  one with \`Policy.Providers.Internal.Directory\` = ${p.policies} generated policies
  (\`bench/policies.ts\`), one with \`Policy.Enabled\` = \`false\`. The policies are what a
  platform team writes: read-only by default, no DELETE on production hosts, approval for
  exports, no admin surfaces, a change freeze outside working hours, body-size limits, known
  agents only, per-service guards, cloud metadata blocked, no credentials in URLs, header
  hygiene, JSON writes only, page-size caps, key-material and GraphQL guards, ports and schemes;
  2 to 4 rules each, over the method, host, path (\`regex\`, \`glob\`, \`startsWith\`, …),
  headers, query, agent, vault, service, hour and body size. The bench request
  (\`GET /bench/n?page=2&limit=50&format=json\` with \`Accept\` and \`User-Agent\`, agent
  \`bench-agent\`, vault \`bench\`, service \`upstream\`) is allowed, but only after real work:
  ${p.applying} of the ${p.policies} policies apply to it (\`appliesTo\` leaves the others out),
  and ${p.rulesTried} rules are tried for it, of which ${p.rulesMatched} (Allow rules) match; the
  other policies that apply end in their default, Allow. The benchmark loads the directory with
  the compiled policy loader and judges that request with a trace before measuring, and stops if
  a file is refused or the request would not simply be allowed. Both instances get the same
  request, HTTPS interception with keep-alive; after one uncounted run each, their runs
  alternate (disabled, policies, policies, disabled, …) so that other load on the machine weighs
  on both alike, and each instance's runs are pooled into one row. The target takes the median
  of the adjacent pairs' req/s ratios (one run disturbed by other load cannot swing it); the
  pooled ratio is shown too, and the CPU µs/req (above) is the steadier measure of what the
  policies add.
- All processes share the machine's cores: the load generator, the upstream and the proxy
  compete for CPU, which flatters nobody. Ratios matter more than absolute numbers.

## What keeps the request path cheap

Found with CPU profiles of the HTTPS keep-alive scenario (\`node --cpu-prof\`), each change
checked against the CPU µs/req column; together they took Vectra from about 560 to about
165 µs of CPU per request on this machine.

- **No AsyncLocalStorage on the hot path.** On Node 20 an enabled AsyncLocalStorage installs
  promise hooks for the whole process (about 100 µs per proxied request here). The log scope
  of admin API requests and the transaction guard of the storage layer enable it only while
  such a scope is open (\`src/observability/async-scope.ts\`); proxied requests carry their id
  in the RequestContext.
- **No database read and no key generation per request.** Tokens, service lists, vault
  settings and credentials come from in-process caches that every replica invalidates through
  the cache provider's pub/sub; a credential is decrypted once per cache entry, not per use;
  leaf keys come from a pool generated off the request path.
- **Few streams and writes.** A small plain response that will be redacted is read whole by the
  upstream client, redacted in one pass and written with its head in one \`end()\`; hop-by-hop
  stripping is one pass; response headers come from \`rawHeaders\`.
- **Cheap decisions.** The pipeline runner takes synchronous decisions as they are and times an
  async stage with one promise and one timer; rate-limit rules are cached per subject; SSRF
  verdicts are memoised per address; policy conditions are compiled once (globs to a
  bit-parallel automaton, \`in\` lists to sets) and allocate nothing per test.
- **Policies partially evaluated.** Conditions on who asks, what they reach, how and when
  (agent, vault, service, scheme, host, port, method, hour, weekday) are settled once per
  combination of those values; per request only the conditions on the path, query, headers and
  body are tested (for the benchmark's request, 28 of the 80 conditions, in 14 of the 20
  policies).
- **Audit rows batched.** One multi-row INSERT per 100 ms, off the response path.

## Latest run

${machineLine(m)}${
    Math.max(m.load.before, m.load.after) > BUSY_LOAD
      ? `

**Other processes were busy on this machine during the run** (load average above ${BUSY_LOAD}):
the numbers are lower, and noisier, than on an idle machine.`
      : ''
  }

${doc.settings}

${doc.results}

### Targets

${doc.targets}
${
  doc.leafMint
    ? `
### Leaf minting in isolation (\`bench/leaf-mint.ts\`)

\`\`\`
${doc.leafMint.trim()}
\`\`\`
`
    : ''
}${
    doc.regex
      ? `
### Regex conditions on hostile text (\`bench/regex-policy.ts\`)

One decision of a Deny rule with a \`regex\` on \`request.path\`, the path 8 KiB of \`a\`; patterns
that would backtrack polynomially are refused when the policy loads, and a path over the
8,192-character input cap is refused without running the regex. \`npm run bench:regex\` runs
this alone in a few seconds.

\`\`\`
${doc.regex.trim()}
\`\`\`
`
      : ''
  }`;
}
