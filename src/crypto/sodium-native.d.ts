// Types for the parts of sodium-native 5 that overlan uses (the @types package describes v2).
declare module 'sodium-native' {
  type Bytes = Uint8Array
  const sodium: {
    randombytes_buf(out: Bytes): void
    sodium_memzero(buf: Bytes): void
    sodium_memcmp(a: Bytes, b: Bytes): boolean
    /** guarded memory (libsodium fills it with 0xdb); sodium-native marks the Buffer `secure` */
    sodium_malloc(size: number): Buffer & { secure: true }
    /** detaches a sodium_malloc'ed Buffer; libsodium frees (and zeroes) the memory when it is collected */
    sodium_free(buf: Buffer): void
    /** throws when the OS refuses to lock the pages */
    sodium_mlock(buf: Bytes): void
    crypto_generichash(out: Bytes, input: Bytes, key?: Bytes): void
    crypto_generichash_KEYBYTES_MIN: number
    crypto_pwhash_async(out: Bytes, passwd: Bytes, salt: Bytes, opslimit: number, memlimit: number, alg: number): Promise<void>
    crypto_pwhash(out: Bytes, passwd: Bytes, salt: Bytes, opslimit: number, memlimit: number, alg: number): void
    crypto_pwhash_SALTBYTES: number
    crypto_pwhash_OPSLIMIT_INTERACTIVE: number
    crypto_pwhash_MEMLIMIT_INTERACTIVE: number
    crypto_pwhash_ALG_ARGON2ID13: number
    crypto_kdf_derive_from_key(out: Bytes, subkeyId: number, ctx: Bytes, key: Bytes): void
    crypto_kdf_CONTEXTBYTES: number
    crypto_kdf_KEYBYTES: number
    crypto_sign_keypair(pk: Bytes, sk: Bytes): void
    crypto_sign_seed_keypair(pk: Bytes, sk: Bytes, seed: Bytes): void
    crypto_sign_detached(sig: Bytes, message: Bytes, sk: Bytes): void
    crypto_sign_verify_detached(sig: Bytes, message: Bytes, pk: Bytes): boolean
    crypto_sign_PUBLICKEYBYTES: number
    crypto_sign_SECRETKEYBYTES: number
    crypto_sign_SEEDBYTES: number
    crypto_sign_BYTES: number
    crypto_aead_xchacha20poly1305_ietf_encrypt(c: Bytes, m: Bytes, ad: Bytes | null, nsec: null, npub: Bytes, k: Bytes): number
    crypto_aead_xchacha20poly1305_ietf_decrypt(m: Bytes, nsec: null, c: Bytes, ad: Bytes | null, npub: Bytes, k: Bytes): number
    crypto_aead_xchacha20poly1305_ietf_KEYBYTES: number
    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES: number
    crypto_aead_xchacha20poly1305_ietf_ABYTES: number
    crypto_aead_chacha20poly1305_ietf_encrypt(c: Bytes, m: Bytes, ad: Bytes | null, nsec: null, npub: Bytes, k: Bytes): number
    crypto_aead_chacha20poly1305_ietf_decrypt(m: Bytes, nsec: null, c: Bytes, ad: Bytes | null, npub: Bytes, k: Bytes): number
    crypto_aead_chacha20poly1305_ietf_KEYBYTES: number
    crypto_hash_sha512(out: Bytes, input: Bytes): void
    /** throws when the scalar is 0 */
    crypto_scalarmult_ed25519_base_noclamp(q: Bytes, n: Bytes): void
    /** throws on a small-order or invalid point */
    crypto_scalarmult_ed25519_noclamp(q: Bytes, n: Bytes, p: Bytes): void
    crypto_scalarmult(q: Bytes, n: Bytes, p: Bytes): void
    crypto_scalarmult_base(q: Bytes, n: Bytes): void
  }
  export default sodium
}
