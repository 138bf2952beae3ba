// Parsing "host:port" as users type it on the command line: "1.2.3.4:7654", "[::1]:7654",
// "host.example:7654", or a bare port. Errors name the option and what was wrong.
import { isIPv6 } from 'node:net'

export interface HostPort {
  host: string
  port: number
}

export function parseHostPort(text: string, defaults: { host?: string; port?: number } = {}): HostPort {
  const value = text.trim()
  let host: string | undefined
  let portText: string | undefined
  const bracketed = /^\[([^\]]+)\](?::(\d*))?$/.exec(value)
  if (bracketed) {
    host = bracketed[1]
    portText = bracketed[2]
  } else if (isIPv6(value)) {
    host = value
  } else if (/^\d+$/.test(value)) {
    portText = value
  } else {
    const colon = value.lastIndexOf(':')
    host = colon === -1 ? value : value.slice(0, colon)
    portText = colon === -1 ? undefined : value.slice(colon + 1)
  }
  host = host || defaults.host
  if (host === undefined || host === '') throw new RangeError(`"${text}" has no host; write host:port`)
  if (!/^[A-Za-z0-9.:%_-]+$/.test(host)) throw new RangeError(`"${text}": "${host}" is not a host name or address`)
  const port = portText === undefined || portText === '' ? defaults.port : Number(portText)
  if (port === undefined) throw new RangeError(`"${text}" has no port; write host:port`)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`"${text}": port must be 0 to 65535`)
  return { host, port }
}

export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}
