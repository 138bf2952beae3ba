// What `overlan netcheck` found, as plain data: the CLI prints it (sentences or JSON), the
// assistance console shows its sentences. Built by netcheck.ts, worded by sentences.ts.

/** One UDP port of one supernode: did it answer our HELLO, how fast, and as whom did it see us. */
export interface PortResult {
  /** the supernode as given (host name or address) */
  supernode: string
  port: number
  reachable: boolean
  rttMs: number | null
  /** our public address:port as this port saw it (COOKIE's reflexive endpoint) */
  publicEndpoint: string | null
  error?: string
}

/** How the NAT in front of us maps one local socket to public endpoints. */
export type NatMapping = 'endpoint-independent' | 'endpoint-dependent' | 'unknown'

export interface NatResult {
  /** the same public endpoint for every destination (easy), a new one per destination (hard), or not known */
  mapping: NatMapping
  /** null: not known (no answer); false: the supernode sees our own local address (no NAT) */
  behindNat: boolean | null
  /** the public port equals the local socket's port; null when not known */
  portPreserved: boolean | null
  localPort: number | null
  /** each distinct public endpoint the supernodes saw, in the order they answered */
  publicEndpoints: string[]
  /** how many distinct destinations (supernode address and port) answered */
  destinations: number
}

export interface TlsResult {
  /** false: no fallback URL was given */
  tested: boolean
  reachable: boolean
  rttMs: number | null
  /** the URL that answered, or the first one tried */
  url: string | null
  /** the HTTP CONNECT proxy used (HTTPS_PROXY), without credentials */
  proxy: string | null
  error?: string
}

export interface Ipv6Result {
  /** the host has a global (not link-local, not ULA) IPv6 address */
  hasGlobalAddress: boolean
  /** a supernode resolves to an IPv6 address and was asked over IPv6 */
  tested: boolean
  reachable: boolean
  rttMs: number | null
}

export interface NetcheckReport {
  udp: { reachable: boolean; rttMs: number | null }
  ports: PortResult[]
  nat: NatResult
  tls: TlsResult
  ipv6: Ipv6Result
  /** supernode's clock minus ours, round-trip corrected; null when no supernode told its time */
  clockSkewMs: number | null
  /** overlan can reach a supernode one way or another (UDP or the fallback) */
  canConnect: boolean
}
