/**
 * zod in, contract details out: one line per problem, each naming its path
 * ("items.1.quantity: must be an integer"). Messages set on a schema win; the map
 * below only words the generic ones.
 */
import type { z } from 'zod';
import { badRequest } from './errors.ts';

type RawIssue = z.core.$ZodRawIssue;

const describe = (expected: string): string => (/^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`);

function plainMessage(issue: RawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? 'is required' : `must be ${describe(issue.expected)}`;
    case 'too_small':
      if (issue.origin === 'array') return `must have at least ${issue.minimum} item${issue.minimum === 1 ? '' : 's'}`;
      if (issue.origin === 'string') return `must have at least ${issue.minimum} characters`;
      return `must be at least ${issue.minimum}`;
    case 'too_big':
      if (issue.origin === 'array') return `must have at most ${issue.maximum} items`;
      if (issue.origin === 'string') return `must have at most ${issue.maximum} characters`;
      return `must be at most ${issue.maximum}`;
    default:
      return undefined;
  }
}

export function issueDetails(issues: readonly z.core.$ZodIssue[], root = 'body'): string[] {
  const details: string[] = [];
  for (const issue of issues) {
    const path = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) details.push(`${[...path, key].join('.')}: unknown key`);
    } else {
      details.push(`${path.length ? path.join('.') : root}: ${issue.message}`);
    }
  }
  return details;
}

/** Parses or throws a 400 `{"error": message, "details": [...]}`. */
export function parseOr400<S extends z.ZodType>(
  schema: S,
  value: unknown,
  message: string,
  root?: string,
): z.output<S> {
  const result = schema.safeParse(value, { error: plainMessage });
  if (result.success) return result.data;
  throw badRequest(message, issueDetails(result.error.issues, root));
}
