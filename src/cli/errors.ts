// The CLI's failures: one line for the user and the exit code that tells scripts what went wrong.

/** Bad options or arguments. */
export const EXIT_USAGE = 1
/** The TAP device or the host's network settings (no /dev/net/tun, no CAP_NET_ADMIN, ...). */
export const EXIT_DEVICE = 2

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = EXIT_USAGE,
  ) {
    super(message)
  }
}
