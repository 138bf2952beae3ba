// Which Host headers a local HTTP listener answers: the defence against DNS rebinding. A web page
// on a name its author controls can re-point that name at 127.0.0.1 and then read our loopback
// listeners as its own origin; the browser still sends the page's name in Host, so a listener that
// answers only to its own names is out of that page's reach. Shared by the assistance API (Koa)
// and the management servers of edges and supernodes (plain node:http), run before any route.
import { isIP } from 'node:net'

export interface HostCheckConfig {
  /** the listen host as configured: an address or a name (a wildcard address is never a name) */
  listenHost: string
  /** further names the listener answers to (configured with `option`) */
  names: readonly string[]
  /** the command-line option that adds a name, for the refusal's message */
  option: string
}

export type HostVerdict = { ok: true } | { ok: false; status: number; error: string }

/**
 * 421 Misdirected Request: "unwilling to produce an authoritative response for the target URI"
 * (RFC 9110 §15.5.20), which is what a Host that names someone else asks for.
 */
export const HOST_REFUSED_STATUS = 421
const WILDCARDS = new Set(['', '0.0.0.0', '::', '::0'])

/**
 * A check of a request's Host header against the listener's names: its listen address, the
 * address the connection actually arrived on (for a wildcard listener), `localhost` when that
 * address is loopback, and the configured names. Any port is accepted: an SSH tunnel or a port
 * forward changes the port, and a rebinding page cannot choose the name, whatever the port.
 */
export function hostCheck(config: HostCheckConfig): (host: string | undefined, localAddress: string | undefined) => HostVerdict {
  const fixed = new Set([...(WILDCARDS.has(config.listenHost) ? [] : [config.listenHost]), ...config.names].map((n) => n.toLowerCase()))
  return (host, localAddress) => {
    if (host === undefined || host === '') return refuse('the request has no Host header: send one naming this server')
    const name = hostName(host)
    if (name === null) return refuse(`the Host header ${JSON.stringify(host)} is not host[:port]`)
    if (fixed.has(name)) return { ok: true }
    const local = localAddress === undefined ? undefined : unmapped(localAddress)
    if (local !== undefined && (name === local || (name === 'localhost' && isLoopback(local)))) return { ok: true }
    const known = new Set([...fixed, ...(local !== undefined ? [local] : []), ...(local !== undefined && isLoopback(local) ? ['localhost'] : [])])
    return refuse(`Host ${JSON.stringify(host)} is not a name of this server (a DNS rebinding attempt?): use ${[...known].join(' or ')}, or add the name with ${config.option}`)
  }
}

/** The name of "name", "name:port", "[v6]" or "[v6]:port", lower-cased; null when it is none of these. */
export function hostName(host: string): string | null {
  const bracketed = /^\[([0-9a-fA-F:.]+)\](?::\d{1,5})?$/.exec(host)
  if (bracketed) return isIP(bracketed[1]!) === 6 ? bracketed[1]!.toLowerCase() : null
  const plain = /^([A-Za-z0-9.-]+)(?::\d{1,5})?$/.exec(host)
  return plain ? plain[1]!.toLowerCase() : null
}

/** A dual-stack socket's "::ffff:127.0.0.1" is the IPv4 client it carries. */
function unmapped(address: string): string {
  return address.toLowerCase().startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address.toLowerCase()
}

function isLoopback(address: string): boolean {
  return address === '::1' || (isIP(address) === 4 && address.startsWith('127.'))
}

function refuse(error: string): HostVerdict {
  return { ok: false, status: HOST_REFUSED_STATUS, error }
}
