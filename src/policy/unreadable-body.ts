/**
 * A body a policy cannot judge. When a rule reads `request.body` and the body could not be read
 * (over Policy.MaxBodyBytes), is not JSON, or repeats a key in one object, the rule cannot be judged, so the request is refused
 * with VEC_POLICY_BODY_UNREADABLE: 413 for a body over the limit, 400 otherwise.
 * A rule with `"onUnreadableBody": "ignore"` judges such a body as absent instead.
 */
import type { ErrorCode } from '../errors';
import { PolicyEvaluationError, type CompiledCondition } from './operators';
import type { PolicyDecision, PolicyInput, UnreadableBody } from './types';

export const ON_UNREADABLE_BODY = ['refuse', 'ignore'] as const;
export type OnUnreadableBody = (typeof ON_UNREADABLE_BODY)[number];

const WHY: Record<UnreadableBody, string> = {
  'too-large': 'the request body is larger than Policy.MaxBodyBytes',
  'not-json': 'the request body is not JSON',
  'repeated-key':
    'the request body repeats a key in one JSON object, which parsers read as its first value or its last',
};

/** What is wrong with a body, in words (`the request body is not JSON`). */
export function unreadableBodyText(why: UnreadableBody): string {
  return WHY[why];
}

/** Thrown by a body condition whose rule cannot judge the request's body. */
export class UnreadableBodyError extends PolicyEvaluationError {
  constructor(readonly why: UnreadableBody) {
    super(WHY[why]);
  }
}

/**
 * `condition`, refusing to judge a body that could not be read; conditions on other fields are
 * returned as they are.
 */
export function refusingUnreadableBody(condition: CompiledCondition): CompiledCondition {
  if (!condition.field.readsBody) return condition;
  return {
    ...condition,
    test(input: PolicyInput): boolean {
      const why = input.request.bodyUnreadable;
      if (why !== undefined) throw new UnreadableBodyError(why);
      return condition.test(input);
    },
  };
}

/** The code and status a Deny is refused with. */
export function denialOf(decision: PolicyDecision): { code: ErrorCode; statusCode: number } {
  const why = decision.unreadableBody;
  if (why === undefined) return { code: 'VEC_POLICY_DENIED', statusCode: 403 };
  return { code: 'VEC_POLICY_BODY_UNREADABLE', statusCode: why === 'too-large' ? 413 : 400 };
}
