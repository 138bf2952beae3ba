// The CLI's failures: one line for the user and the exit code that tells scripts what went wrong.

/** Bad options or arguments. */
export const EXIT_USAGE = 1
/** The TAP device or the host's network settings (no /dev/net/tun, no CAP_NET_ADMIN, ...). */
export const EXIT_DEVICE = 2
// 3: `overlan audit verify` found the audit log's chain broken (src/cli/audit.ts); for `overlan edge --join-file`, EXIT_DENIED.
/** `overlan edge --join-file`: the device's owner denied the technician's request. */
export const EXIT_DENIED = 3
/** `overlan status`: nothing listens at the management address (no edge is running there). */
export const EXIT_NO_EDGE = 4
/** `overlan status`: something answered at the management address, but not with an edge's status. */
export const EXIT_NOT_AN_EDGE = 5

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = EXIT_USAGE,
  ) {
    super(message)
  }
}
/** `overlan netcheck`: no way to a supernode works from here (neither UDP nor the fallback). */
export const EXIT_CANNOT_CONNECT = 6
/** `overlan edge --cert`: the certificate is not this identity's, has expired, is not valid yet, or a supernode proved it expired or revoked. */
export const EXIT_CERTIFICATE = 7
/** `overlan edge --join-file`: the assistance session is over for this technician (disconnected, switched off, expired, or no more admitted). */
export const EXIT_SESSION_OVER = 8
