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

/** Ports one supernode address may list (host:7654,443,53): each costs a HELLO per attempt. */
export const MAX_SUPERNODE_PORTS = 8

/**
 * A supernode as `-l` gives it: a host and the UDP ports it answers on, tried all at once (the
 * first to answer is kept). `port` is the first of `ports`, so it is also a plain HostPort.
 */
export interface SupernodeAddress extends HostPort {
  ports: number[]
}

/** "host:7654", "host:7654,443", "[::1]:7654,53" or a bare host (the default port). */
export function parseSupernodeAddress(text: string, defaultPort: number): SupernodeAddress {
  const value = text.trim()
  // the port list follows the last ':' outside brackets; a bare IPv6 address has no port list
  const list = /^(.*?):(\d+(?:,\s*\d*)+)$/.exec(value)
  if (list === null || (list[1]!.includes(':') && !list[1]!.startsWith('['))) {
    const one = parseHostPort(value, { port: defaultPort })
    return { ...one, ports: [one.port] }
  }
  const texts = list[2]!.split(',').map((p) => p.trim())
  if (texts.some((p) => p === '')) throw new RangeError(`"${text}": an empty port in the list; write host:7654,443`)
  if (texts.length > MAX_SUPERNODE_PORTS) throw new RangeError(`"${text}": at most ${MAX_SUPERNODE_PORTS} ports per supernode`)
  const ports = texts.map((p) => {
    const port = Number(p)
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`"${text}": port ${p} must be 1 to 65535`)
    return port
  })
  if (new Set(ports).size !== ports.length) throw new RangeError(`"${text}": a port is listed twice`)
  const { host } = parseHostPort(`${list[1]}:${ports[0]}`)
  return { host, port: ports[0]!, ports }
}

/** A supernode as configured: a HostPort, with the further UDP ports it answers on when it lists them. */
export type SupernodeHost = HostPort & { ports?: readonly number[] }

export function formatSupernodeAddress(address: HostPort & { ports?: readonly number[] }): string {
  const ports = address.ports ?? [address.port]
  return `${formatHostPort({ host: address.host, port: ports[0] ?? address.port })}${ports.slice(1).map((p) => `,${p}`).join('')}`
}

/** The one path a supernode serves its WebSocket on (the contract with src/supernode). */
export const FALLBACK_PATH = '/overlan'

/**
 * A fallback URL as `--fallback` gives it: wss://HOST[:PORT]/overlan, or ws:// when plain
 * WebSocket was allowed explicitly (--insecure-fallback). Errors say which part is wrong.
 */
export function parseFallbackUrl(text: string, allowPlain: boolean): URL {
  let url: URL
  try {
    url = new URL(text.trim())
  } catch {
    const port = /^[a-z]+:\/\/[^/]*:(\d+)(?:\/|$)/i.exec(text.trim())?.[1]
    if (port !== undefined && Number(port) > 65535) throw new RangeError(`"${text}": port must be 1 to 65535`)
    throw new RangeError(`"${text}" is not a URL like wss://sn.example/overlan`)
  }
  if (url.protocol === 'ws:' && !allowPlain) throw new RangeError(`"${text}": ws:// is not encrypted by TLS; use wss://, or allow it with --insecure-fallback`)
  if (url.protocol !== 'wss:' && url.protocol !== 'ws:') throw new RangeError(`"${text}": the scheme must be wss:// (not ${url.protocol}//)`)
  if (url.hostname === '') throw new RangeError(`"${text}" has no host`)
  if (url.port === '0') throw new RangeError(`"${text}": port must be 1 to 65535`)
  if (url.username !== '' || url.password !== '') throw new RangeError(`"${text}": give no user or password in the URL`)
  if (url.pathname !== FALLBACK_PATH || url.search !== '' || url.hash !== '') throw new RangeError(`"${text}": the path must be ${FALLBACK_PATH} (nothing after it)`)
  return url
}

/** host of a URL as HostPort.host spells it (no brackets around IPv6). */
export function urlHost(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
}

/**
 * Which fallback belongs to which supernode: a URL whose host is a supernode's host is that one's;
 * the others go, in the order given, to the supernodes still without one, in the order given.
 * At most one per supernode; one too many is an error.
 */
export function pairFallbacks<T extends HostPort>(supernodes: T[], fallbacks: URL[]): (T & { fallback: URL | null })[] {
  const paired = supernodes.map((s) => ({ ...s, fallback: null as URL | null }))
  const rest: URL[] = []
  for (const url of fallbacks) {
    const owner = paired.find((s) => s.host.toLowerCase() === urlHost(url).toLowerCase())
    if (owner === undefined) rest.push(url)
    else if (owner.fallback !== null) throw new RangeError(`${url.href}: ${formatHostPort(owner)} already has the fallback ${owner.fallback.href}`)
    else owner.fallback = url
  }
  for (const url of rest) {
    const owner = paired.find((s) => s.fallback === null)
    if (owner === undefined) throw new RangeError(`${url.href}: every supernode already has a fallback (one each; give -l for this one)`)
    owner.fallback = url
  }
  return paired
}
