import { ValueErrorType } from '@sinclair/typebox/errors';
import { Elysia, ValidationError } from 'elysia';
import { isDatabaseBusy, isDatabaseUnavailable, summarizeError } from '../db/errors';
import type { Logger } from '../logger';
import { EMPTY_BODY, emptyBodyProblem } from './json-body';
import { type FieldError, PROBLEM_CONTENT_TYPE, Problem } from './problem';
import { requestIdOf } from './request-context';

function fieldErrors(error: ValidationError): FieldError[] {
  const seen = new Set<string>();
  return error.all.flatMap((issue) => {
    if (!('path' in issue) || seen.has(issue.path)) return [];
    seen.add(issue.path);
    const field = issue.path.split('/').at(-1) || 'body';
    const message =
      issue.type === ValueErrorType.ObjectRequiredProperty
        ? `${field} is required`
        : issue.type === ValueErrorType.ObjectAdditionalProperties
          ? `${field} is not a field a client may set`
          : typeof issue.schema.error === 'string'
            ? issue.schema.error
            : `${field}: ${issue.message}`;
    return [{ path: issue.path || '/', message }];
  });
}

function fromValidation(error: ValidationError): Problem {
  const errors = fieldErrors(error);
  if (error.type === 'body') {
    return new Problem(
      422,
      `The request body breaks ${errors.length} rule${errors.length === 1 ? '' : 's'}.`,
      { errors },
    );
  }
  return new Problem(400, errors.map((e) => e.message).join('; '), { errors });
}

/** Maps every failure to RFC 9457 problem+json; what a client sees never includes a stack, SQL or driver text. */
export const errorHandler = (logger: Logger) =>
  new Elysia({ name: 'error-handler' }).onError({ as: 'global' }, ({ code, error, set, request, route }) => {
    let problem: Problem;
    // Elysia wraps whatever a parser throws in its own ParseError; the Problem it carries is the answer.
    const cause = code === 'PARSE' ? error.cause : undefined;
    // Names and codes only: an error's message and stack can carry SQL, its parameters and personal data.
    const context = () => ({
      request_id: requestIdOf(set.headers),
      method: request.method,
      route: route || 'unmatched',
      error: summarizeError(error),
    });
    if (error instanceof Problem) problem = error;
    else if (cause instanceof Problem) problem = cause;
    // A response that breaks its own schema is our fault, not the client's: it falls through to the 500.
    else if (error instanceof ValidationError && error.type !== 'response') {
      problem =
        error.type === 'body' && error.value === EMPTY_BODY ? emptyBodyProblem() : fromValidation(error);
    } else if (code === 'PARSE') problem = new Problem(400, 'The request body is not valid JSON.');
    else if (code === 'NOT_FOUND') problem = new Problem(404, 'No route matches this method and path.');
    else if (isDatabaseUnavailable(error)) {
      problem = Problem.unavailable('The database is unreachable; retry shortly.');
      logger.warn(context(), 'database unreachable');
    } else if (isDatabaseBusy(error)) {
      problem = Problem.unavailable('The database is busy and did not answer in time; retry shortly.');
      logger.warn(context(), 'database busy: statement or lock timeout');
    } else {
      problem = new Problem(
        500,
        `Something went wrong on our side; quote request id ${requestIdOf(set.headers)} when reporting it.`,
      );
      logger.error(context(), 'unhandled error');
    }
    set.status = problem.status;
    Object.assign(set.headers, problem.headers, { 'content-type': PROBLEM_CONTENT_TYPE });
    return problem.body;
  });
