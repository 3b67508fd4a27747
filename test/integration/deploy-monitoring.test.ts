/**
 * The shipped Grafana dashboard and Prometheus alerts (deploy/) parse, and every metric their
 * queries name is registered by a real gateway, with the type the suffix assumes (`_bucket`,
 * `_sum` and `_count` of a histogram): a renamed metric fails here, not on a silent panel.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import type { Gateway } from '../../src/gateway';
import { REPO_ROOT, startTestGateway } from '../helpers/gateway';

interface Rule {
  alert: string;
  expr: string;
  labels?: Record<string, string>;
}

const dashboard = JSON.parse(
  readFileSync(join(REPO_ROOT, 'deploy', 'grafana', 'vectra.json'), 'utf8'),
) as {
  panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
  templating: { list: Array<{ query?: string | { query: string } }> };
};
const alerts = load(
  readFileSync(join(REPO_ROOT, 'deploy', 'prometheus', 'alerts.yml'), 'utf8'),
) as { groups: Array<{ name: string; rules: Rule[] }> };

/** Every metric name in a PromQL expression (the vectra_ ones: the gateway's own). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\bvectra_[a-z0-9_]+/g)].map((m) => m[0]);
}

describe('deploy/ monitoring files', () => {
  let gateway: Gateway;
  beforeAll(async () => {
    gateway = await startTestGateway();
  });
  afterAll(async () => {
    await gateway?.close();
  });

  const expressions = (): Array<{ where: string; expr: string }> => [
    ...dashboard.panels.flatMap((panel) =>
      panel.targets.map((target) => ({ where: `panel "${panel.title}"`, expr: target.expr })),
    ),
    ...dashboard.templating.list.flatMap((variable) =>
      typeof variable.query === 'object'
        ? [{ where: 'a dashboard variable', expr: variable.query.query }]
        : [],
    ),
    ...alerts.groups.flatMap((group) =>
      group.rules.map((rule) => ({ where: `alert ${rule.alert}`, expr: rule.expr })),
    ),
  ];

  it('hold the panels and alerts the operators need', () => {
    expect(dashboard.panels.map((panel) => panel.title)).toEqual(
      expect.arrayContaining([
        'Requests by decision',
        'Refusals by code',
        'Latency p50 / p99: upstream vs added by Vectra',
        'Approvals pending',
        'Tunnels open',
      ]),
    );
    expect(alerts.groups.flatMap((group) => group.rules.map((rule) => rule.alert))).toEqual([
      'VectraHighRefusalRate',
      'VectraCircuitOpen',
      'VectraApprovalsPilingUp',
      'VectraAuditRowsDropped',
    ]);
  });

  it('name only metrics the gateway registers', () => {
    const registry = gateway.metrics.registry;
    const unknown: string[] = [];
    let checked = 0;
    for (const { where, expr } of expressions()) {
      const names = metricNames(expr);
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) {
        checked += 1;
        const histogram = /^(.*)_(bucket|sum|count)$/.exec(name);
        const metric = registry.getSingleMetric(name);
        const base = histogram ? registry.getSingleMetric(histogram[1]) : undefined;
        // By type: the request path's histograms are not prom-client's class (metric-cells.ts).
        const known =
          metric !== undefined || (base as { type?: string } | undefined)?.type === 'histogram';
        if (!known) unknown.push(`${name} (${where})`);
      }
    }
    expect(unknown).toEqual([]);
    expect(checked).toBeGreaterThan(15);
  });
});
