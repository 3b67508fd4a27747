/**
 * A request that servers read differently is judged as each of them reads it, and the stricter
 * decision wins (Deny, then Hitl, then Allow), so a rule holds whichever server is behind:
 *
 * - a path holding `%2F` or `%5C` also as a server that decodes them into separators routes it
 *   (`/files/a%2F..%2Fadmin` is `/admin` there); the escapes stay encoded on the wire, since
 *   APIs such as GitLab's carry them inside one segment;
 * - a path whose segments carry `;parameters` also without them, as Tomcat, Jetty and Spring
 *   route it (`/admin;x=1/users` is `/admin/users` there);
 * - a query with a repeated parameter, or a bracketed one (`a[]=`, `a[0]=`, which PHP, Rails and
 *   Express's qs file under `a`), also with the bracketed ones filed under their name, and then
 *   with each repeated parameter's first value only and its last value only (servers keep the
 *   first, the last, or all);
 * - a request whose method-override header (`X-HTTP-Method-Override: DELETE`) asks for another
 *   method also as that method, as the frameworks that honour the header run it.
 *
 * Other requests are judged once: the check costs a few substring searches.
 */
import { overriddenMethods } from '../http/method-override';
import { parametersStripped, separatorsDecoded } from '../http/request-target';
import type { PolicyDecision, PolicyEffect, PolicyInput } from './types';

const SEVERITY: Record<PolicyEffect, number> = { Allow: 0, Hitl: 1, Deny: 2 };

type Query = PolicyInput['request']['query'];

interface View {
  request: PolicyInput['request'];
  /** How the view differs, for the decision's reason. */
  note: string;
}

/**
 * `judge` on `input` and on every other reading of it (see the file comment); the result whose
 * decision is strictest (the first on a tie), its reason naming the reading.
 */
export async function judgeEveryReading<T extends { decision: PolicyDecision }>(
  input: PolicyInput,
  judge: (input: PolicyInput) => Promise<T>,
): Promise<T> {
  let best = await judge(input);
  if (best.decision.effect === 'Deny') return best;
  for (const view of otherViews(input.request)) {
    const next = await judge({ ...input, request: view.request });
    if (SEVERITY[next.decision.effect] <= SEVERITY[best.decision.effect]) continue;
    const reason = `${next.decision.reason} (${view.note})`;
    best = { ...next, decision: { ...next.decision, reason } };
    if (best.decision.effect === 'Deny') break;
  }
  return best;
}

/** The engine's decision on every reading of the request. */
export async function decideEveryReading(
  engine: { evaluate(input: PolicyInput): Promise<PolicyDecision> },
  input: PolicyInput,
): Promise<PolicyDecision> {
  // The common request, which every server reads alike: one evaluation, no wrapping.
  if (!readDifferently(input.request)) return engine.evaluate(input);
  const judged = await judgeEveryReading(input, async (view) => ({
    decision: await engine.evaluate(view),
  }));
  return judged.decision;
}

/** Whether some server may read `request` otherwise: the cheap test before otherViews. */
function readDifferently({ method, path, query, headers }: PolicyInput['request']): boolean {
  if (path.includes('%2F') || path.includes('%5C') || path.includes(';')) return true;
  if (overriddenMethods(method, headers).length > 0) return true;
  for (const key in query) {
    if (key.includes('[') || Array.isArray(query[key])) return true;
  }
  return false;
}

function* otherViews(request: PolicyInput['request']): Generator<View> {
  const { path } = request;
  for (const method of overriddenMethods(request.method, request.headers)) {
    const note = `The request was judged as a ${method}, the method its override header asks for.`;
    yield { request: { ...request, method }, note };
  }
  const decoded = separatorsDecoded(path);
  const paths = new Map<string, string>();
  if (decoded !== undefined)
    paths.set(decoded, `The path was judged as ${decoded}, its encoded slashes decoded.`);
  for (const candidate of [path, decoded]) {
    const stripped = candidate === undefined ? undefined : parametersStripped(candidate);
    if (stripped !== undefined && stripped !== path && !paths.has(stripped)) {
      paths.set(stripped, `The path was judged as ${stripped}, without its ;parameters.`);
    }
  }
  for (const [other, note] of paths) yield { request: { ...request, path: other }, note };
  const filed = bracketsFiled(request.query);
  if (filed === undefined) return;
  const queries: Array<[Query, string]> = [
    [filed, 'The query was judged with its bracketed parameters under their names.'],
    [pick(filed, 0), "The query was judged with each repeated parameter's first value."],
    [pick(filed, -1), "The query was judged with each repeated parameter's last value."],
  ];
  for (const [query, note] of queries) {
    if (query !== request.query) yield { request: { ...request, query }, note };
  }
}

/**
 * `query` with the values of `name[...]` parameters also filed under `name`; the query itself
 * when it has no bracketed parameter but a repeated one; undefined when it has neither.
 */
function bracketsFiled(query: Query): Query | undefined {
  let filed: Query | undefined;
  let repeated = false;
  for (const [key, value] of Object.entries(query)) {
    if (Array.isArray(value)) repeated = true;
    const bracket = key.indexOf('[');
    if (bracket <= 0) continue;
    const name = key.slice(0, bracket);
    filed ??= { ...query };
    const seen = Object.hasOwn(filed, name) ? filed[name] : undefined;
    const values = [...(seen === undefined ? [] : [seen].flat()), ...[value].flat()];
    filed[name] = values.length === 1 ? values[0] : values;
  }
  if (filed !== undefined) return filed;
  return repeated ? query : undefined;
}

/** `query` with each repeated parameter reduced to its value at `index` (-1: the last). */
function pick(query: Query, index: 0 | -1): Query {
  const picked: Query = {};
  for (const [key, value] of Object.entries(query)) {
    picked[key] = Array.isArray(value) ? value.at(index)! : value;
  }
  return picked;
}
