// Structured logs: one JSON object per line on stdout, with the fields Cloud Logging reads
// (`severity`, `message`) and stable fields (`link`, `cluster`, `secret`, `reason`).
// Never pass key material: callers log names, versions and fingerprints only.

export type Severity = 'DEBUG' | 'INFO' | 'NOTICE' | 'WARNING' | 'ERROR';

export interface LogFields {
  link?: string;
  cluster?: string;
  secret?: string;
  reason?: string;
  [key: string]: unknown;
}

export interface Logger {
  log(severity: Severity, message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  with(fields: LogFields): Logger;
}

const ORDER: Record<Severity, number> = { DEBUG: 0, INFO: 1, NOTICE: 2, WARNING: 3, ERROR: 4 };

/** An error as log fields: code and message, never the stack of a key-bearing object. */
export function errorFields(err: unknown): LogFields {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { error: err.message, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { error: String(err) };
}

export function createLogger(options: { write?: (line: string) => void; minSeverity?: Severity; base?: LogFields } = {}): Logger {
  const write = options.write ?? ((line: string) => process.stdout.write(line + '\n'));
  const min = ORDER[options.minSeverity ?? 'INFO'];
  const base = options.base ?? {};
  const logger: Logger = {
    log(severity, message, fields) {
      if (ORDER[severity] < min) return;
      write(JSON.stringify({ severity, message, ...base, ...fields, time: new Date().toISOString() }));
    },
    info: (m, f) => logger.log('INFO', m, f),
    warn: (m, f) => logger.log('WARNING', m, f),
    error: (m, f) => logger.log('ERROR', m, f),
    with: (fields) => createLogger({ write, minSeverity: options.minSeverity ?? 'INFO', base: { ...base, ...fields } }),
  };
  return logger;
}
