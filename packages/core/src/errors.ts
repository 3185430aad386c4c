/**
 * Coded errors. Codes are stable strings grouped by subsystem; never reuse a retired one.
 * Modelled on zwave-js's ZWaveError: a code, a context object and a cause.
 */
export const ErrorCodes = {
  // 1xx configuration and definitions
  CONFIG_INVALID: 'PB101_CONFIG_INVALID',
  DEFINITION_INVALID: 'PB102_DEFINITION_INVALID',
  UNKNOWN_TYPE: 'PB103_UNKNOWN_TYPE',
  /** A definition built for another `@patchbay/core` version range than the running one. */
  CORE_INCOMPATIBLE: 'PB104_CORE_INCOMPATIBLE',
  // 2xx routing and commands
  UNKNOWN_DEVICE: 'PB201_UNKNOWN_DEVICE',
  NOT_ROUTED: 'PB202_NOT_ROUTED',
  COMMAND_TIMEOUT: 'PB203_COMMAND_TIMEOUT',
  DEVICE_UNAVAILABLE: 'PB204_DEVICE_UNAVAILABLE',
  DEVICE_PAUSED: 'PB205_DEVICE_PAUSED',
  COMMAND_INVALID: 'PB206_COMMAND_INVALID',
  COMMAND_FAILED: 'PB207_COMMAND_FAILED',
  OUTBOX_FULL: 'PB208_OUTBOX_FULL',
  GATEWAY_STOPPING: 'PB209_GATEWAY_STOPPING',
  GATEWAY_RESTARTED: 'PB210_GATEWAY_RESTARTED',
  READ_ONLY: 'PB211_READ_ONLY',
  VALUE_INVALID: 'PB212_VALUE_INVALID',
  /** The journal cannot write (disk full, read-only): a command whose reply must survive a restart is refused. */
  JOURNAL_UNAVAILABLE: 'PB213_JOURNAL_UNAVAILABLE',
  /** A device id announced by a second gateway of the cluster (issue 19). */
  DEVICE_ID_TAKEN: 'PB219_DEVICE_ID_TAKEN',
  // 3xx delivery
  HOST_UNREACHABLE: 'PB301_HOST_UNREACHABLE',
  EVENT_REJECTED: 'PB302_EVENT_REJECTED',
  // 4xx lifecycle
  START_FAILED: 'PB401_START_FAILED',
  CRASH_LOOP: 'PB402_CRASH_LOOP',
  // 5xx journal
  JOURNAL_CORRUPT: 'PB501_JOURNAL_CORRUPT',
  JOURNAL_IO: 'PB502_JOURNAL_IO',
  /** Another live gateway holds the data directory's lock. */
  JOURNAL_LOCKED: 'PB503_JOURNAL_LOCKED',
  // 9xx anything we did not foresee
  INTERNAL: 'PB999_INTERNAL',
} as const;

/** One of the stable error codes in {@link ErrorCodes}. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Codes whose failure may go away by itself: the supervisor and outboxes retry these. */
const transientCodes: ReadonlySet<string> = new Set<string>([
  ErrorCodes.HOST_UNREACHABLE,
  ErrorCodes.DEVICE_UNAVAILABLE,
  ErrorCodes.COMMAND_TIMEOUT,
  ErrorCodes.START_FAILED,
  ErrorCodes.JOURNAL_IO,
]);

/** The error every Patchbay package throws: a stable `code`, a `context` for people and logs, and a `cause`. */
export class PatchbayError extends Error {
  override readonly name = 'PatchbayError';
  readonly code: ErrorCode;
  readonly context: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: { context?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.context = options.context ?? {};
  }

  /** A plain object for logs and wire formats (pino serialises `err` keys itself, this is for the rest). */
  toJSON(): { code: string; message: string; context: Readonly<Record<string, unknown>> } {
    return { code: this.code, message: this.message, context: this.context };
  }
}

/** True for a {@link PatchbayError}, optionally of one code. */
export function isPatchbayError(value: unknown, code?: ErrorCode): value is PatchbayError {
  return value instanceof PatchbayError && (code === undefined || value.code === code);
}

/** True when retrying may succeed: a transient coded error, or any error that is not ours (I/O, sockets). */
export function isTransient(error: unknown): boolean {
  return error instanceof PatchbayError ? transientCodes.has(error.code) : true;
}

/** Normalises anything thrown at a boundary into a {@link PatchbayError}. */
export function toPatchbayError(error: unknown, fallback: { code?: ErrorCode; message?: string; context?: Record<string, unknown> } = {}): PatchbayError {
  if (error instanceof PatchbayError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new PatchbayError(fallback.code ?? ErrorCodes.INTERNAL, fallback.message ? `${fallback.message}: ${message}` : message, {
    context: fallback.context,
    cause: error,
  });
}

/** A short human-readable description of anything thrown. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : JSON.stringify(error);
}
