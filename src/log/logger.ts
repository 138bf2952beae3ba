// Logging as a parameter: the core writes through a Logger it is given (silent by default); the
// CLI makes one that prints "time level message" lines to stderr at the chosen level.

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export interface Logger {
  debug(message: string): void
  info(message: string): void
  warn(message: string): void
  error(message: string): void
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} }

export function streamLogger(level: LogLevel, write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  const threshold = LOG_LEVELS.indexOf(level)
  const at = (l: LogLevel) => (message: string) => {
    if (LOG_LEVELS.indexOf(l) >= threshold) write(`${new Date().toISOString()} ${l} ${message}\n`)
  }
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

/**
 * Lets at most `perSecond` messages through per second and counts the rest, so that a flood of
 * refused packets cannot turn into a flood of log lines.
 */
export class LogThrottle {
  private windowStart = 0
  private inWindow = 0
  private suppressed = 0

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number,
  ) {}

  /** Calls `log` with the message (and a note of what was suppressed) unless over the limit. */
  pass(message: string, log: (message: string) => void): void {
    if (this.admit(log)) log(message)
  }

  /**
   * Whether one more message may go out now (logging first what was suppressed, when a new second
   * starts): for a message worth building only when it will be written.
   */
  admit(log: (message: string) => void): boolean {
    const now = this.now()
    if (now - this.windowStart >= 1000) {
      if (this.suppressed > 0) log(`(${this.suppressed} similar messages suppressed)`)
      this.windowStart = now
      this.inWindow = 0
      this.suppressed = 0
    }
    if (this.inWindow < this.perSecond) {
      this.inWindow++
      return true
    }
    this.suppressed++
    return false
  }
}
