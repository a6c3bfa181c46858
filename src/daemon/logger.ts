import winston from 'winston';
import type { LogFormat, LogLevel } from '../config/schema.js';

export type Logger = winston.Logger;

/** berthd logs to stderr, as a systemd service does, in text or JSON. */
export function createLogger(level: LogLevel, format: LogFormat): Logger {
  const text = winston.format.printf(({ timestamp, level: lvl, message, ...fields }) => {
    const extra = Object.entries(fields)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v)}`)
      .join(' ');
    return `${String(timestamp)} ${lvl.toUpperCase()} ${String(message)}${extra ? ' ' + extra : ''}`;
  });
  return winston.createLogger({
    level,
    format: winston.format.combine(
      winston.format.timestamp(),
      winston.format.errors({ stack: false }),
      format === 'json' ? winston.format.json() : text,
    ),
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
  });
}
