// Stateless registration cookies (the supernode's answer to HELLO): a 4-byte timestamp in seconds
// and a 16-byte keyed BLAKE2b over that timestamp, the client's nonce and its source endpoint.
// The supernode keeps no state per HELLO; only someone who receives packets at that address can
// present a valid cookie, which is what stops registrations from spoofed sources.
import sodium from 'sodium-native'

export const COOKIE_SECRET_BYTES = 32
const COOKIE_MAC_BYTES = 16

export class CookieMinter {
  private readonly secret = Buffer.alloc(COOKIE_SECRET_BYTES)

  /** @param lifetimeSeconds how long a cookie stays valid after it is made */
  constructor(private readonly lifetimeSeconds: number) {
    sodium.randombytes_buf(this.secret)
  }

  mint(nowSeconds: number, clientNonce: Buffer, endpoint: Buffer): Buffer {
    const cookie = Buffer.alloc(4 + COOKIE_MAC_BYTES)
    cookie.writeUInt32BE(nowSeconds >>> 0, 0)
    this.mac(cookie.subarray(4), cookie.subarray(0, 4), clientNonce, endpoint)
    return cookie
  }

  check(nowSeconds: number, cookie: Buffer, clientNonce: Buffer, endpoint: Buffer): boolean {
    if (cookie.length !== 4 + COOKIE_MAC_BYTES) return false
    const age = (nowSeconds >>> 0) - cookie.readUInt32BE(0)
    if (age < 0 || age > this.lifetimeSeconds) return false
    const expected = Buffer.alloc(COOKIE_MAC_BYTES)
    this.mac(expected, cookie.subarray(0, 4), clientNonce, endpoint)
    return sodium.sodium_memcmp(expected, cookie.subarray(4))
  }

  private mac(out: Buffer, timestamp: Buffer, clientNonce: Buffer, endpoint: Buffer): void {
    sodium.crypto_generichash(out, Buffer.concat([timestamp, clientNonce, endpoint]), this.secret)
  }
}
