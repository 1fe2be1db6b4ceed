import { pino, type Logger } from 'pino';

// Headers and query strings that carry credentials are never logged, whatever a later log call
// passes in: redaction is the last line of defence, not the first.
export function createLogger(level = 'info', destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      redact: {
        paths: ['*.authorization', '*.headers.authorization', '*.secretAccessKey', '*.credentials', '*["x-amz-security-token"]'],
        censor: '[redacted]',
      },
    },
    destination as pino.DestinationStream | undefined,
  );
}
