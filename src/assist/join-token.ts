// The join token: everything a technician's edge needs to join one assistance session, in one
// string for `overlan edge --join`. It carries the key, so it is a secret: hand it over a secure
// channel. Format: "ovl1." + base64url(JSON) with short field names.
import { formatSupernodeAddress, parseFallbackUrl, parseSupernodeAddress, type SupernodeAddress, type SupernodeHost } from '../net/address.js'
import { parseOverlayAddress, type OverlayAddress } from '../wire/index.js'

export const JOIN_TOKEN_PREFIX = 'ovl1.'
/** Tokens are pasted into terminals; anything much longer than a real one is not a token. */
const MAX_TOKEN_CHARS = 4096
/** Fallback URLs a token carries at most: one per supernode of a pair is plenty, and tokens stay short. */
export const MAX_TOKEN_FALLBACKS = 2

export interface JoinToken {
  community: string
  key: string
  /** each with every UDP port it answers on ("host:7654,443" in the token) */
  supernodes: SupernodeHost[]
  /** ms since the epoch */
  expiresAt: number
  /** the assisted device's overlay address */
  deviceIp: OverlayAddress | null
  /** the supernodes' WebSocket URLs for networks that block UDP (wss://HOST/overlan); edges that predate them ignore them */
  fallbacks?: string[]
}

interface TokenJson {
  c: string
  k: string
  s: string[]
  e: number
  d?: string
  f?: string[]
}

export function encodeJoinToken(token: JoinToken): string {
  const fallbacks = token.fallbacks ?? []
  // the CLI refuses more (--fallback): more here is a bug, not a user's input
  if (fallbacks.length > MAX_TOKEN_FALLBACKS) throw new RangeError(`a join token carries at most ${MAX_TOKEN_FALLBACKS} fallback URLs`)
  const json: TokenJson = {
    c: token.community,
    k: token.key,
    s: token.supernodes.map(formatSupernodeAddress),
    e: token.expiresAt,
    ...(token.deviceIp ? { d: `${token.deviceIp.address}/${token.deviceIp.prefix}` } : {}),
    ...(fallbacks.length > 0 ? { f: fallbacks } : {}),
  }
  return JOIN_TOKEN_PREFIX + Buffer.from(JSON.stringify(json)).toString('base64url')
}

/** Parses a token; throws an Error whose message says what is wrong with it (never echoes the key). */
export function decodeJoinToken(text: string): JoinToken {
  const trimmed = text.trim()
  if (!trimmed.startsWith(JOIN_TOKEN_PREFIX)) throw new Error(`not an overlan join token (it starts with "${JOIN_TOKEN_PREFIX}")`)
  if (trimmed.length > MAX_TOKEN_CHARS) throw new Error('the join token is too long')
  let json: unknown
  try {
    json = JSON.parse(Buffer.from(trimmed.slice(JOIN_TOKEN_PREFIX.length), 'base64url').toString('utf8'))
  } catch {
    throw new Error('the join token is damaged (copy it again, whole)')
  }
  const t = json as Partial<TokenJson>
  if (typeof t !== 'object' || t === null) throw new Error('the join token is damaged')
  if (typeof t.c !== 'string' || t.c.length === 0) throw new Error('the join token has no community')
  if (typeof t.k !== 'string' || t.k.length === 0) throw new Error('the join token has no key')
  if (!Array.isArray(t.s) || t.s.length === 0 || !t.s.every((s) => typeof s === 'string')) throw new Error('the join token names no supernode')
  if (typeof t.e !== 'number' || !Number.isFinite(t.e)) throw new Error('the join token has no expiry')
  let deviceIp: OverlayAddress | null = null
  if (t.d !== undefined) {
    deviceIp = typeof t.d === 'string' ? parseOverlayAddress(t.d) : null
    if (deviceIp === null) throw new Error('the join token has a bad device address')
  }
  return { community: t.c, key: t.k, supernodes: t.s.map(tokenSupernode), expiresAt: t.e, deviceIp, fallbacks: tokenFallbacks(t.f) }
}

/** One entry of `s`: "host:port" or "host:7654,443" (a port is always written). */
function tokenSupernode(s: string): SupernodeAddress {
  let address: SupernodeAddress | null
  try {
    address = parseSupernodeAddress(s, 0) // 0: no port written, refused below
  } catch {
    address = null
  }
  if (address === null || address.ports.some((port) => port < 1)) throw new Error('the join token has a bad supernode address')
  return address
}

/** `f`: absent in older tokens; else at most MAX_TOKEN_FALLBACKS ws:// or wss:// URLs (the edge decides whether plain is allowed). */
function tokenFallbacks(f: unknown): string[] {
  if (f === undefined) return []
  if (!Array.isArray(f) || f.length > MAX_TOKEN_FALLBACKS || !f.every((u) => typeof u === 'string')) throw new Error(`the join token's fallback URLs are damaged (at most ${MAX_TOKEN_FALLBACKS})`)
  return f.map((u: string) => {
    try {
      return parseFallbackUrl(u, true).toString()
    } catch {
      throw new Error('the join token has a bad fallback URL')
    }
  })
}
