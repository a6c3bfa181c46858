/** Errors of the registry client, each saying which URL failed and why. */
import { BerthError, NotFoundError, ResourceExhaustedError, UnavailableError } from '../errors.js';

/** The registry could not be reached or answered with an unexpected status. */
export class RegistryError extends UnavailableError {
  constructor(
    message: string,
    readonly url?: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The registry refused our credentials (or we have none and it wants some). */
export class RegistryAuthError extends BerthError {
  constructor(
    message: string,
    readonly url?: string,
    options?: { cause?: unknown },
  ) {
    super('FAILED_PRECONDITION', message, options);
  }
}

/** The registry has no such manifest or blob. */
export class RegistryNotFoundError extends NotFoundError {
  constructor(
    message: string,
    readonly url?: string,
  ) {
    super(message);
  }
}

/** Bytes received do not hash to the digest they were asked for (or announced). */
export class DigestMismatchError extends BerthError {
  constructor(
    message: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super('FAILED_PRECONDITION', message);
  }
}

/** A body is larger than it may be (a manifest over the limit, a blob over its size). */
export class SizeLimitError extends ResourceExhaustedError {}
