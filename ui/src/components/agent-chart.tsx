/** Requests and refusals per agent among the loaded audit rows, as horizontal bars (SVG). */
import type { AuditRow } from '../types';

const WIDTH = 520;
const BAR = 14;
const LABEL = 140;

export function AgentChart({ rows }: { rows: AuditRow[] }) {
  const counts = new Map<string, { allowed: number; refused: number }>();
  for (const row of rows) {
    if (row.event !== null) continue; // approval events are not requests
    const agent = row.agent ?? '(unknown)';
    const entry = counts.get(agent) ?? { allowed: 0, refused: 0 };
    if (row.decision === 'allow') entry.allowed += 1;
    else entry.refused += 1;
    counts.set(agent, entry);
  }
  const agents = [...counts.entries()].sort(
    (a, b) => b[1].allowed + b[1].refused - (a[1].allowed + a[1].refused),
  );
  if (agents.length === 0) return null;
  const max = Math.max(...agents.map(([, c]) => c.allowed + c.refused));
  const scale = (WIDTH - LABEL - 60) / max;
  const height = agents.length * (BAR + 10) + 10;
  return (
    <figure class="chart">
      <figcaption>
        Requests per agent (last {rows.length} rows): <span class="key allowed">allowed</span>{' '}
        <span class="key refused">refused</span>
      </figcaption>
      <svg
        viewBox={`0 0 ${WIDTH} ${height}`}
        width={WIDTH}
        height={height}
        role="img"
        aria-label={agents
          .map(([agent, c]) => `${agent}: ${c.allowed} allowed, ${c.refused} refused`)
          .join('; ')}
      >
        {agents.map(([agent, c], i) => {
          const y = 10 + i * (BAR + 10);
          return (
            <g key={agent}>
              <text x={0} y={y + BAR - 3} class="label">
                {agent.length > 18 ? `${agent.slice(0, 17)}…` : agent}
              </text>
              <rect x={LABEL} y={y} width={c.allowed * scale} height={BAR} class="allowed" />
              <rect
                x={LABEL + c.allowed * scale}
                y={y}
                width={c.refused * scale}
                height={BAR}
                class="refused"
              />
              <text x={LABEL + (c.allowed + c.refused) * scale + 6} y={y + BAR - 3} class="label">
                {c.allowed}/{c.refused}
              </text>
            </g>
          );
        })}
      </svg>
    </figure>
  );
}
