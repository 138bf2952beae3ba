// The join token: everything a technician's edge needs to ask the device's owner for admission to
// one assistance session, in one string for `overlan edge --join-file`. Version 2 ("ovl2.", this
// one) carries the enrollment secret (a Noise PSK that only lets its holder ask) and the public keys
// of the authority and the device, never a key that opens anyone's traffic: still a secret, since it
// lets its holder ask. Version 1 ("ovl1.", overlan 0.1/0.2) carried the community's shared key; its
// encoder stays for the assistance service until the service makes ovl2 only.
import { formatSupernodeAddress, parseFallbackUrl, parseSupernodeAddress, type SupernodeAddress, type SupernodeHost } from '../net/address.js'
import { secretMemory } from '../crypto/secure-memory.js'
import { Reader, Writer } from '../wire/cursor.js'
import { KEY_BYTES, isValidName, parseOverlayAddress, readOverlay, writeOverlay, type OverlayAddress } from '../wire/index.js'

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

// ---- version 2 --------------------------------------------------------------------------------
//
//   version = 2 (1) | reserved 0 (1) | expiresAt ms (u53) | authority key (32) | device key (32) |
//   enrollment secret (32) | device overlay address (5) | device name (len 1 + UTF-8 ≤ 64) |
//   device host name (len 1 + ≤ 63) | supernodes (count 1..4, each len 1 + "host:port[,port…]") |
//   fallbacks (count 0..2, each len 1 + URL)

export const JOIN_TOKEN_V2_PREFIX = 'ovl2.'
const JOIN_TOKEN_V2_VERSION = 2
export const MAX_TOKEN_SUPERNODES = 4
export const MAX_DEVICE_NAME_BYTES = 64
export const MAX_DEVICE_HOST_NAME_BYTES = 63
/** The contract's bound for 4 supernodes and 2 fallback URLs of 40 characters each (test/unit/join-token-v2.test.ts) */
export const MAX_TOKEN_V2_CHARS = 700
const ENROLLMENT_SECRET_BYTES = 32

export interface JoinTokenV2 {
  /** 1..4, each with its UDP ports */
  supernodes: SupernodeHost[]
  /** 0..2 wss:// URLs */
  fallbacks: string[]
  /** Ed25519: the community ID is communityIdOf(authorityKey) */
  authorityKey: Buffer
  /** the device edge's identity public key: the Noise static key of the enrollment */
  deviceKey: Buffer
  deviceName: string
  /** the device's overlay address (SOCKS5 name target, ping target) */
  deviceIp: OverlayAddress
  /** e.g. "device.overlan" */
  deviceHostName: string
  /** ms since the epoch */
  expiresAt: number
  /** the Noise PSK of the enrollment (32 bytes; decoded into secret memory) */
  enrollmentSecret: Buffer
}

export function encodeJoinTokenV2(t: JoinTokenV2): string {
  // the assistance service builds these from its own checked values: a bad one is a bug, not input
  if (t.supernodes.length < 1 || t.supernodes.length > MAX_TOKEN_SUPERNODES) throw new RangeError(`a join token names 1..${MAX_TOKEN_SUPERNODES} supernodes`)
  if (t.fallbacks.length > MAX_TOKEN_FALLBACKS) throw new RangeError(`a join token carries at most ${MAX_TOKEN_FALLBACKS} fallback URLs`)
  if (t.enrollmentSecret.length !== ENROLLMENT_SECRET_BYTES) throw new RangeError(`the enrollment secret is ${ENROLLMENT_SECRET_BYTES} bytes`)
  const strings = [t.deviceName, t.deviceHostName, ...t.supernodes.map(formatSupernodeAddress), ...t.fallbacks].map((text) => Buffer.from(text, 'utf8'))
  const [name, host] = strings
  if (name!.length > MAX_DEVICE_NAME_BYTES) throw new RangeError(`deviceName: at most ${MAX_DEVICE_NAME_BYTES} bytes`)
  if (host!.length > MAX_DEVICE_HOST_NAME_BYTES || host!.length === 0) throw new RangeError(`deviceHostName: 1..${MAX_DEVICE_HOST_NAME_BYTES} bytes`)
  if (strings.some((b) => b.length > 255)) throw new RangeError('a supernode address or fallback URL of more than 255 bytes')
  const size = 2 + 8 + 3 * KEY_BYTES + 5 + 2 + strings.reduce((n, b) => n + 1 + b.length, 0)
  const w = new Writer(size).u8(JOIN_TOKEN_V2_VERSION).u8(0).u53(t.expiresAt).bytes(t.authorityKey, KEY_BYTES).bytes(t.deviceKey, KEY_BYTES).bytes(t.enrollmentSecret, ENROLLMENT_SECRET_BYTES)
  writeOverlay(w, t.deviceIp)
  const counted = [name!, host!, t.supernodes.length, ...strings.slice(2, 2 + t.supernodes.length), t.fallbacks.length, ...strings.slice(2 + t.supernodes.length)]
  for (const item of counted) {
    if (typeof item === 'number') w.u8(item)
    else w.u8(item.length).bytes(item)
  }
  return JOIN_TOKEN_V2_PREFIX + w.done().toString('base64url')
}

/**
 * Parses an ovl2 token; throws an Error with one line that says what is wrong (never echoing the
 * secret). An ovl1 token gets the line that tells the technician to ask for a new one.
 */
export function decodeJoinTokenV2(text: string): JoinTokenV2 {
  const trimmed = text.trim()
  if (trimmed.startsWith(JOIN_TOKEN_PREFIX)) throw new Error('this join token is from overlan 0.1/0.2 (shared key): ask for a new one')
  if (!trimmed.startsWith(JOIN_TOKEN_V2_PREFIX)) throw new Error(`not an overlan join token (it starts with "${JOIN_TOKEN_V2_PREFIX}")`)
  if (trimmed.length > MAX_TOKEN_CHARS) throw new Error('the join token is too long')
  const body = trimmed.slice(JOIN_TOKEN_V2_PREFIX.length)
  if (!/^[A-Za-z0-9_-]*$/.test(body)) throw new Error('the join token is damaged (copy it again, whole)')
  const raw = Buffer.from(body, 'base64url')
  try {
    return readTokenV2(raw)
  } finally {
    // the secret's only copy outside secret memory that we can reach (the text is the caller's)
    raw.fill(0)
  }
}

function readTokenV2(raw: Buffer): JoinTokenV2 {
  const r = new Reader(raw)
  const damaged = (): Error => new Error('the join token is damaged (copy it again, whole)')
  if (r.u8() !== JOIN_TOKEN_V2_VERSION) throw r.reason === null ? new Error('this join token is from a newer overlan: update overlan') : damaged()
  r.zero(1)
  const expiresAt = r.u53('bad-timestamp')
  const authorityKey = Buffer.from(r.bytes(KEY_BYTES))
  const deviceKey = Buffer.from(r.bytes(KEY_BYTES))
  const enrollmentSecret = secretMemory.copyOf(r.bytes(ENROLLMENT_SECRET_BYTES))
  const deviceIp = readOverlay(r)
  const deviceName = readText(r, MAX_DEVICE_NAME_BYTES)
  const deviceHostName = readText(r, MAX_DEVICE_HOST_NAME_BYTES)
  const supernodes = readList(r, MAX_TOKEN_SUPERNODES)
  const fallbacks = readList(r, MAX_TOKEN_FALLBACKS)
  if (r.finish() !== null || deviceName === null || deviceHostName === null || supernodes === null || fallbacks === null) throw damaged()
  if (deviceIp === null) throw new Error('the join token has no device address')
  if (supernodes.length === 0) throw new Error('the join token names no supernode')
  if (deviceHostName === '') throw new Error('the join token has no device host name')
  return { supernodes: supernodes.map(tokenSupernode), fallbacks: tokenFallbacks(fallbacks), authorityKey, deviceKey, deviceName, deviceIp, deviceHostName, expiresAt, enrollmentSecret }
}

/**
 * A length-prefixed UTF-8 string of at most `max` bytes; null when it is longer, not UTF-8 or holds
 * control characters (the names are printed on the technician's terminal).
 */
function readText(r: Reader, max: number): string | null {
  const raw = r.bytes(r.u8())
  const text = raw.toString('utf8')
  return Buffer.from(text, 'utf8').equals(raw) && isValidName(text, max) ? text : null
}

function readList(r: Reader, max: number): string[] | null {
  const count = r.u8()
  if (count > max) return null
  const out: string[] = []
  for (let i = 0; i < count; i++) {
    const text = readText(r, 255)
    if (text === null) return null
    out.push(text)
  }
  return out
}
