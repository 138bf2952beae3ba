// Stateless registration cookies (the supernode's answer to HELLO): a 4-byte timestamp in seconds
// and a 16-byte keyed BLAKE2b over that timestamp, the client's nonce and its source endpoint.
// The supernode keeps no state per HELLO; only someone who receives packets at that address can
// present a valid cookie, which is what stops registrations from spoofed sources.
import sodium from 'sodium-native'
import { destroySecret, secretBuffer } from './secure-memory.js'

export const COOKIE_SECRET_BYTES = 32
const COOKIE_MAC_BYTES = 16

export class CookieMinter {
  /** lives as long as the supernode: in secret memory, zeroed by destroy() at its stop */
  private readonly secret = secretBuffer(COOKIE_SECRET_BYTES)
  private destroyed = false

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
    // a zeroed secret is one anybody knows: nothing passes once it is gone
    if (this.destroyed) return false
    if (cookie.length !== 4 + COOKIE_MAC_BYTES) return false
    const age = (nowSeconds >>> 0) - cookie.readUInt32BE(0)
    if (age < 0 || age > this.lifetimeSeconds) return false
    const expected = Buffer.alloc(COOKIE_MAC_BYTES)
    this.mac(expected, cookie.subarray(0, 4), clientNonce, endpoint)
    return sodium.sodium_memcmp(expected, cookie.subarray(4))
  }

  /** Zeroes the secret (the supernode stops); every cookie is refused from then on. */
  destroy(): void {
    this.destroyed = true
    destroySecret(this.secret)
  }

  private mac(out: Buffer, timestamp: Buffer, clientNonce: Buffer, endpoint: Buffer): void {
    sodium.crypto_generichash(out, Buffer.concat([timestamp, clientNonce, endpoint]), this.secret)
  }
}
