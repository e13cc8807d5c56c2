// A logger that keeps its lines in memory, parsed, for tests to read.
import { createLogger, type Logger } from '../../shared/log.js';

export function memoryLogger(): Logger & { lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ write: (line) => lines.push(JSON.parse(line)), minSeverity: 'DEBUG' });
  return Object.assign(logger, { lines });
}
