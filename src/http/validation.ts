import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ValidationError } from 'elysia';
import { EMPTY_BODY, emptyBodyProblem } from './json-body';

/**
 * A body check a service runs itself, where the contract orders body rules after the loan's lookup and the role
 * (404 and 403 come first). Failures answer 422 exactly as route-level validation does.
 */
export function bodyRules<S extends TSchema>(schema: S, { emptyAs }: { emptyAs?: object } = {}) {
  const compiled = TypeCompiler.Compile(schema);
  return (body: unknown): Static<S> => {
    const value = body === EMPTY_BODY ? emptyAs : body;
    if (value === undefined) throw emptyBodyProblem();
    if (!compiled.Check(value)) throw new ValidationError('body', compiled, value);
    // Decode, not the value as checked: transforms (the borrower id's NFC form) apply here.
    return compiled.Decode(value);
  };
}

/** The OpenAPI request body of a route whose service checks it (Elysia's own `body` would check it too early). */
export const documentedBody = (schema: TSchema, required = true) => ({
  requestBody: {
    required,
    content: { 'application/json': { schema } },
  },
});
