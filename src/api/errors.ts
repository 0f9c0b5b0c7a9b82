/**
 * The api's one error path: routes throw ApiError (or let anything else escape), and
 * one handler turns it into `{"error", "details"?}`. 5xx answers never carry internals;
 * the cause goes to the log instead.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';

export interface ErrorBody {
  error: string;
  details?: string[];
  [extra: string]: unknown;
}

export class ApiError extends Error {
  readonly statusCode: number;
  readonly body: ErrorBody;
  readonly headers: Record<string, string>;
  constructor(statusCode: number, body: ErrorBody, opts: { cause?: unknown; headers?: Record<string, string> } = {}) {
    super(body.error, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ApiError';
    this.statusCode = statusCode;
    this.body = body;
    this.headers = opts.headers ?? {};
  }
}

export const badRequest = (error: string, details: string[]): ApiError => new ApiError(400, { error, details });
export const notFound = (what: string): ApiError => new ApiError(404, { error: `${what} not found` });
export const unavailable = (error: string, extra: Record<string, unknown> = {}, cause?: unknown): ApiError =>
  new ApiError(503, { error, ...extra }, { cause });

/** Runs a store call; any failure becomes a 503 (the store is the only thing that can fail here). */
export async function fromStore<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw err instanceof ApiError ? err : unavailable('store unavailable', {}, err);
  }
}

/** Fastify's own request errors (body parsing), in the contract's shape. */
const requestErrors: Record<string, ErrorBody> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { error: 'invalid JSON', details: ['body: is not valid JSON'] },
  FST_ERR_CTP_EMPTY_JSON_BODY: { error: 'invalid JSON', details: ['body: is empty'] },
  FST_ERR_CTP_BODY_TOO_LARGE: { error: 'body too large', details: ['body: must be at most 65536 bytes'] },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    error: 'unsupported media type',
    details: ['content-type: must be application/json'],
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { error: 'invalid content length' },
};

export function errorHandler(err: FastifyError | ApiError | Error, request: FastifyRequest, reply: FastifyReply): void {
  if (err instanceof ApiError) {
    if (err.statusCode >= 500) request.log.warn({ err: err.cause ?? err, status: err.statusCode }, err.message);
    void reply.code(err.statusCode).headers(err.headers).send(err.body);
    return;
  }
  const code = (err as FastifyError).code;
  const status = (err as FastifyError).statusCode;
  const known = code === undefined ? undefined : requestErrors[code];
  if (known && status !== undefined) {
    void reply.code(status).send(known);
    return;
  }
  if (status !== undefined && status >= 400 && status < 500) {
    void reply.code(status).send({ error: err.message });
    return;
  }
  if (err instanceof AppError && err.retriable) {
    request.log.warn({ err }, 'dependency unavailable');
    void reply.code(503).send({ error: 'service unavailable' });
    return;
  }
  request.log.error({ err }, 'unhandled error');
  void reply.code(500).send({ error: 'internal server error' });
}

export function notFoundHandler(_request: FastifyRequest, reply: FastifyReply): void {
  void reply.code(404).send({ error: 'not found' });
}
