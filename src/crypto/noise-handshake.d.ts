// Types for the parts of noise-handshake 4.2 and noise-curve-ed 2.1 that overlan uses (neither
// ships its own). Both are pinned to an exact version in package.json: noise-ik.ts reaches into
// the handshake state's fields to erase intermediate keys, which only an exact version guarantees.
declare module 'noise-handshake' {
  type Bytes = Uint8Array
  export interface KeyPair {
    publicKey: Bytes
    secretKey: Bytes
    /** noise-curve-ed: the clamped secret scalar, used as it is instead of being hashed from the seed at each DH */
    scalar?: Bytes
  }
  export interface Curve {
    PKLEN: number
    DHLEN: number
    ALG: string
    generateKeyPair(seed?: Bytes): KeyPair
    dh(publicKey: Bytes, keyPair: KeyPair): Bytes
  }
  class NoiseState {
    constructor(pattern: 'IK' | 'XX' | 'NN' | 'XK' | 'XXpsk0' | 'NNpsk0', initiator: boolean, staticKeypair: KeyPair, opts?: { curve?: Curve; psk?: Bytes })
    s: KeyPair
    /** the local ephemeral; created at the first `e` token unless already set */
    e: KeyPair | null
    rs: Bytes | null
    re: Bytes | null
    complete: boolean
    /** transport keys after the last message: views of one 128-byte buffer of the library's */
    tx: Bytes | null
    rx: Bytes | null
    hash: Bytes | null
    /** the chaining key and the handshake's cipher key (SymmetricState / CipherState) */
    chainingKey: Bytes | null
    key: Bytes | null
    digest: Bytes | null
    initialise(prologue: Bytes, remoteStatic?: Bytes): void
    send(payload?: Bytes): Bytes
    recv(message: Bytes): Bytes
    mixKey(remoteKey: Bytes, localKey: KeyPair): void
    /** psk token: HKDF of the chaining key and the PSK into a new chaining key, hash input and cipher key */
    mixKeyAndHash(key: Bytes): void
    /** psk patterns: each ephemeral is mixed into the chaining key and cipher key too */
    mixKeyNormal(key: Bytes): void
  }
  export default NoiseState
}

declare module 'noise-curve-ed' {
  import type { Curve } from 'noise-handshake'
  const curve: Curve & { SCALARLEN: number; SKLEN: number }
  export default curve
}
