// One line per event on stderr: time, level, component, message, then key=value fields, so
// `kubectl logs` and test fixtures can grep them. Values with spaces are JSON-quoted.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, string | number | bigint | boolean | null | undefined>;

const levelRank: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
let threshold: LogLevel = (process.env.KLAB_BROKER_LOG_LEVEL as LogLevel | undefined) ?? 'info';
if (!(threshold in levelRank)) threshold = 'info';

function formatValue(value: LogFields[string]): string {
  const text = String(value);
  return /^[\w.:/@[\]-]+$/.test(text) ? text : JSON.stringify(text);
}

export class Logger {
  constructor(private readonly component: string) {}

  child(component: string): Logger {
    return new Logger(`${this.component}.${component}`);
  }

  debug(message: string, fields?: LogFields): void {
    this.write('debug', message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.write('info', message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.write('warn', message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.write('error', message, fields);
  }

  private write(level: LogLevel, message: string, fields: LogFields | undefined): void {
    if (levelRank[level] < levelRank[threshold]) return;
    let line = `${new Date().toISOString()} ${level.toUpperCase()} ${this.component}: ${message}`;
    if (fields) {
      for (const [key, value] of Object.entries(fields)) {
        if (value !== undefined) line += ` ${key}=${formatValue(value)}`;
      }
    }
    process.stderr.write(`${line}\n`);
  }
}

export const rootLogger = new Logger('broker');

/** The message of a thrown value, for a log field or an error that wraps it. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
