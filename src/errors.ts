/**
 * One error family for the whole system. Retry and dead-letter decisions read
 * `retriable`, never the message. Codes that reach an order's `reason` are the
 * contract's reason codes; the others are operational.
 */
import { FailureCodes, type FailureCode } from '../machines/order.machine.ts';

/** The contract's reason codes are the machine's failure codes. */
export const ReasonCodes = FailureCodes;
export type ReasonCode = FailureCode;

export type ErrorCode =
  | ReasonCode
  | 'INVALID_MESSAGE'
  | 'UNKNOWN_ORDER'
  | 'FORGED_COMMAND'
  | 'UNSUPPORTED_VERSION'
  | 'STORE_UNAVAILABLE'
  | 'BROKER_UNAVAILABLE'
  | 'LOCK_NOT_ACQUIRED'
  | 'CONCURRENT_UPDATE'
  /** POST /orders refused by admission control (503, Retry-After); nothing recorded. */
  | 'OVERLOADED'
  | 'SIMULATED_CRASH'
  | 'INVALID_CONFIG';

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly details: unknown;
  constructor(code: ErrorCode, message: string, opts: { retriable: boolean; cause?: unknown; details?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = opts.retriable;
    this.details = opts.details;
  }
}

/** A consumed payload that fails its topic's schema: dead-lettered, never retried. */
export class InvalidMessageError extends AppError {
  constructor(message: string, details?: unknown) {
    super('INVALID_MESSAGE', message, { retriable: false, details });
  }
}

/** A command or event for an orderId that has no record (never created, or long expired). */
export class UnknownOrderError extends AppError {
  constructor(orderId: string) {
    super('UNKNOWN_ORDER', `no record for order ${orderId}`, { retriable: false });
  }
}

/**
 * A command the saga cannot have sent, as it disagrees with the stored order: other items
 * than it recorded, another user, an amount other than its total, or an undo while the
 * order is not compensating. Dead-lettered, never obeyed (rule `idempotent-effects`,
 * docs/architecture.md).
 */
export class ForgedCommandError extends AppError {
  constructor(what: string, orderId: string, why: string) {
    super('FORGED_COMMAND', `${what} for order ${orderId} refused: ${why}`, { retriable: false });
  }
}

/** A payload or snapshot written by a version this code does not understand. */
export class UnsupportedVersionError extends AppError {
  constructor(what: string, version: unknown) {
    super('UNSUPPORTED_VERSION', `${what} has unsupported version ${String(version)}`, { retriable: false });
  }
}

export class StoreUnavailableError extends AppError {
  constructor(message = 'store unavailable', cause?: unknown) {
    super('STORE_UNAVAILABLE', message, { retriable: true, cause });
  }
}

export class BrokerUnavailableError extends AppError {
  constructor(message = 'broker did not confirm the publish', cause?: unknown) {
    super('BROKER_UNAVAILABLE', message, { retriable: true, cause });
  }
}

export class LockNotAcquiredError extends AppError {
  constructor(resources: readonly string[], cause?: unknown) {
    super('LOCK_NOT_ACQUIRED', `could not lock ${resources.join(',')}`, { retriable: true, cause });
  }
}

/** Compare-and-set lost too many times in a row; the message is redelivered. */
export class ConcurrentUpdateError extends AppError {
  constructor(orderId: string) {
    super('CONCURRENT_UPDATE', `order ${orderId} kept changing under us`, { retriable: true });
  }
}

/** Injected by MEMORY_FAULTS: behaves like a process dying at that point. */
export class SimulatedCrashError extends AppError {
  constructor(where: string) {
    super('SIMULATED_CRASH', `simulated crash ${where}`, { retriable: true });
  }
}

export class ConfigError extends AppError {
  constructor(message: string) {
    super('INVALID_CONFIG', message, { retriable: false });
  }
}

/** Anything that is not an AppError is treated as retriable: never lose a message to a bug. */
export function isRetriable(err: unknown): boolean {
  return err instanceof AppError ? err.retriable : true;
}

export function errorCode(err: unknown): string {
  return err instanceof AppError ? err.code : 'INTERNAL';
}
