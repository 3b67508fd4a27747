/**
 * Health checks in the seed's shape:
 * `{"status":"Healthy","healthCheckDuration":"00:00:00.0023456","checks":{…}}`.
 * The overall status is the worst of the checks; a check that throws or exceeds its time
 * budget is Unhealthy (or Degraded when the check says a failure only degrades service).
 */

export type HealthStatus = 'Healthy' | 'Degraded' | 'Unhealthy';

export interface CheckResult {
  status: HealthStatus;
  description: string;
  data?: Record<string, unknown>;
}

export interface HealthCheck {
  name: string;
  /** Status reported when the check throws or times out. */
  failureStatus?: Exclude<HealthStatus, 'Healthy'>;
  run(): Promise<CheckResult>;
}

export interface HealthReport {
  status: HealthStatus;
  healthCheckDuration: string;
  checks: Record<string, CheckResult & { duration: string }>;
}

const RANK: Record<HealthStatus, number> = { Healthy: 0, Degraded: 1, Unhealthy: 2 };

/** Formats milliseconds as .NET's TimeSpan `c` format, `hh:mm:ss.fffffff`. */
export function formatTimeSpan(ms: number): string {
  const ticks = Math.max(0, Math.round(ms * 10_000)); // 1 tick = 100 ns
  const totalSeconds = Math.floor(ticks / 10_000_000);
  const fraction = String(ticks % 10_000_000).padStart(7, '0');
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const s = totalSeconds % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(h)}:${pad(m)}:${pad(s)}.${fraction}`;
}

export class HealthService {
  private readonly checks: HealthCheck[] = [];

  constructor(private readonly timeoutMs = 5000) {}

  register(check: HealthCheck): void {
    this.checks.push(check);
  }

  async report(): Promise<HealthReport> {
    const started = performance.now();
    const entries = await Promise.all(this.checks.map((check) => this.runOne(check)));
    const checks: HealthReport['checks'] = {};
    let status: HealthStatus = 'Healthy';
    for (const [name, result] of entries) {
      checks[name] = result;
      if (RANK[result.status] > RANK[status]) status = result.status;
    }
    return { status, healthCheckDuration: formatTimeSpan(performance.now() - started), checks };
  }

  private async runOne(check: HealthCheck): Promise<[string, CheckResult & { duration: string }]> {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
    });
    let result: CheckResult;
    try {
      result = await Promise.race([check.run(), timeout]);
    } catch (err) {
      result = { status: check.failureStatus ?? 'Unhealthy', description: (err as Error).message };
    } finally {
      clearTimeout(timer);
    }
    return [check.name, { ...result, duration: formatTimeSpan(performance.now() - started) }];
  }
}
