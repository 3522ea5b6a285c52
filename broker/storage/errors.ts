// Typed storage errors. Every failure the log reports carries the Kafka error code the
// handlers put on the wire, so a handler maps a StorageError to a response without guessing
// from message text. Codes are numbered here (not imported from protocol/) so storage stays
// usable on its own; they are Kafka's public error numbers.

export const StorageErrorCode = {
  OFFSET_OUT_OF_RANGE: 1,
  CORRUPT_MESSAGE: 2,
  MESSAGE_TOO_LARGE: 10,
  INVALID_CONFIG: 40,
  UNSUPPORTED_FOR_MESSAGE_FORMAT: 43,
  KAFKA_STORAGE_ERROR: 56,
  UNSUPPORTED_COMPRESSION_TYPE: 76,
  INVALID_RECORD: 87,
} as const;

export type StorageErrorCodeValue = (typeof StorageErrorCode)[keyof typeof StorageErrorCode];

export interface StorageErrorOptions {
  /** `topic-partition` the error concerns, when there is one. */
  partition?: string;
  cause?: unknown;
}

export class StorageError extends Error {
  readonly partition: string | undefined;

  constructor(
    /** Kafka error code for the response (a StorageErrorCode value, or a producer-state code). */
    readonly kafkaErrorCode: number,
    message: string,
    options: StorageErrorOptions = {},
  ) {
    super(options.partition ? `${options.partition}: ${message}` : message, { cause: options.cause });
    this.name = 'StorageError';
    this.partition = options.partition;
  }
}

/** Describes an OS error for a message: its code and text, e.g. "ENOSPC: no space left on device". */
export function describeOsError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code && !error.message.startsWith(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
