// The Noise IK handshake between two edges, from noise-handshake (holepunch's implementation on
// libsodium, as hyperdht uses) with noise-curve-ed, so that the static key is the edge's Ed25519
// identity key itself: Noise_IK_Ed25519_ChaChaPoly_BLAKE2b. This module adds what the library
// leaves to its caller: ephemeral keys made in secret memory, every DH output, chaining key and
// handshake key erased as soon as it is replaced, transport keys copied into the caller's secret
// memory and the library's copies erased, and refusals of untrusted messages as values, not throws.
import sodium from 'sodium-native'
import NoiseState, { type Curve, type KeyPair } from 'noise-handshake'
import curveEd from 'noise-curve-ed'
import { SecretSlab } from './secret-slab.js'
import { destroySecret, secretBuffer } from './secure-memory.js'

export const NOISE_PROTOCOL_NAME = 'Noise_IK_Ed25519_ChaChaPoly_BLAKE2b'
export const KEY_BYTES = 32
/** Both transport keys, side by side: send ‖ receive. */
export const TRANSPORT_KEYS_BYTES = 2 * KEY_BYTES

/** What the prologue starts with: a handshake made for anything else never completes with ours. */
const PROLOGUE_LABEL = 'overlan pair session'

/**
 * The prologue both sides mix into the handshake: label ‖ protocol version ‖ community ID. An
 * initiation made for another community, or by another protocol version, fails to decrypt.
 */
export function sessionPrologue(communityId: Uint8Array, protocolVersion: number): Buffer {
  if (communityId.length === 0) throw new RangeError('communityId must not be empty')
  if (!Number.isInteger(protocolVersion) || protocolVersion < 0 || protocolVersion > 255) throw new RangeError(`protocolVersion must be 0..255, got ${protocolVersion}`)
  return Buffer.concat([Buffer.from(PROLOGUE_LABEL), Buffer.from([protocolVersion]), communityId])
}

/** An edge's static key as the handshake uses it: the Ed25519 identity and its scalar, secrets in secret memory. */
export interface StaticKey {
  publicKey: Buffer
  secretKey: Buffer
  /** the clamped scalar of secretKey: computed once, so no DH hashes the seed into ordinary memory again */
  scalar: Buffer
}

/** Makes the handshake's static key from an Ed25519 identity (public 32 bytes, libsodium secret key 64 bytes). */
export function staticKeyFrom(identity: { publicKey: Uint8Array; secretKey: Uint8Array }): StaticKey {
  if (identity.publicKey.length !== 32) throw new RangeError('identity publicKey must be 32 bytes')
  if (identity.secretKey.length !== 64) throw new RangeError('identity secretKey must be 64 bytes (libsodium Ed25519)')
  const hash = secretBuffer(64)
  sodium.crypto_hash_sha512(hash, identity.secretKey.subarray(0, 32))
  const scalar = secretBuffer(32)
  hash.copy(scalar, 0, 0, 32)
  destroySecret(hash)
  clamp(scalar)
  const secretKey = secretBuffer(64)
  secretKey.set(identity.secretKey)
  return { publicKey: Buffer.from(identity.publicKey), secretKey, scalar }
}

export function destroyStaticKey(key: StaticKey): void {
  destroySecret(key.secretKey)
  destroySecret(key.scalar)
}

function clamp(scalar: Uint8Array): void {
  scalar[0]! &= 248
  scalar[31]! &= 127
  scalar[31]! |= 64
}

/** Ephemeral scalars of handshakes in flight: 32-byte slots of secret memory, zeroed when released. */
const ephemeralSlab = new SecretSlab(KEY_BYTES)

/** Why a handshake message from the network was refused. */
export type HandshakeFailure =
  | 'handshake-decrypt-failed' // wrong responder key, wrong community/version (prologue), or a changed byte
  | 'bad-handshake-key' // an ephemeral or static key that is not a usable curve point (small order, not on the curve)

/** sodium-native's messages for a failed tag check and a refused scalar multiplication. */
const DECRYPT_FAILED = 'could not verify data'
const SCALARMULT_FAILED = /^status: -?\d+$/

/**
 * noise-handshake's state with erasure: every chaining key and handshake key is zeroed when mixKey
 * replaces it (the library drops the old ones to the garbage collector).
 */
class ErasingNoiseState extends NoiseState {
  override mixKey(remoteKey: Uint8Array, localKey: KeyPair): void {
    this.erasingReplaced(() => super.mixKey(remoteKey, localKey))
  }

  // the PSK patterns (enrollment.ts) replace both keys with these two as well
  override mixKeyAndHash(key: Uint8Array): void {
    this.erasingReplaced(() => super.mixKeyAndHash(key))
  }

  override mixKeyNormal(key: Uint8Array): void {
    this.erasingReplaced(() => super.mixKeyNormal(key))
  }

  private erasingReplaced(mix: () => void): void {
    const oldChainingKey = this.chainingKey
    const oldKey = this.key
    mix()
    if (oldChainingKey !== null && oldChainingKey !== this.chainingKey) sodium.sodium_memzero(oldChainingKey)
    if (oldKey !== null && oldKey !== this.key) sodium.sodium_memzero(oldKey)
  }
}

/**
 * One handshake of a Noise pattern, either side. Use once: write/read its messages in order, take
 * its keys, or destroy it. IkHandshake (pair sessions) and EnrollmentHandshake (enrollment.ts,
 * XXpsk0) are its two uses.
 */
export class NoiseHandshake {
  private readonly state: ErasingNoiseState
  /** DH outputs made by this handshake: erased when it ends */
  private readonly dhOutputs: Uint8Array[] = []
  private ephemeralSlot: Buffer | null = null
  private failed = false
  private ended = false

  /** `psk`: the caller's, in secret memory, for a pattern with a psk token (the library mixes it, never copies it) */
  protected constructor(pattern: 'IK' | 'XXpsk0', local: StaticKey, initiator: boolean, prologue: Uint8Array, remoteStatic?: Uint8Array, psk?: Uint8Array) {
    const curve: Curve = {
      PKLEN: curveEd.PKLEN,
      DHLEN: curveEd.DHLEN,
      ALG: curveEd.ALG,
      generateKeyPair: () => this.makeEphemeral(),
      dh: (publicKey, keyPair) => {
        const out = curveEd.dh(publicKey, keyPair)
        this.dhOutputs.push(out)
        return out
      },
    }
    this.state = new ErasingNoiseState(pattern, initiator, { publicKey: local.publicKey, secretKey: local.secretKey, scalar: local.scalar }, { curve, ...(psk ? { psk } : {}) })
    this.state.initialise(prologue, remoteStatic)
  }

  /** The next message of the pattern, carrying `payload` encrypted. */
  write(payload: Uint8Array): Buffer {
    this.assertUsable()
    return Buffer.from(this.state.send(payload))
  }

  /**
   * Reads the next message of the pattern (untrusted bytes). Returns its decrypted payload, or the
   * reason it was refused; after a refusal this handshake is spent (destroy it).
   */
  read(message: Uint8Array): { ok: true; payload: Buffer } | { ok: false; reason: HandshakeFailure } {
    this.assertUsable()
    try {
      return { ok: true, payload: Buffer.from(this.state.recv(message)) }
    } catch (err) {
      const message = err instanceof Error ? err.message : ''
      // the library's state has moved on mid-message: nothing more can be read or written
      this.failed = true
      if (message === DECRYPT_FAILED) return { ok: false, reason: 'handshake-decrypt-failed' }
      if (SCALARMULT_FAILED.test(message)) return { ok: false, reason: 'bad-handshake-key' }
      throw err
    }
  }

  /** The peer's static key: known from the start (initiator) or after message 1 (responder). */
  get remoteStatic(): Buffer | null {
    return this.state.rs === null ? null : Buffer.from(this.state.rs)
  }

  get complete(): boolean {
    return this.state.complete && !this.ended
  }

  /**
   * Copies the transport keys into `into` (64 bytes of the caller's secret memory: send ‖ receive)
   * and erases every key this handshake still holds.
   */
  takeTransportKeys(into: Buffer): void {
    if (!this.complete) throw new Error('takeTransportKeys before the handshake completed')
    if (into.length !== TRANSPORT_KEYS_BYTES) throw new RangeError(`transport keys take ${TRANSPORT_KEYS_BYTES} bytes`)
    const { tx, rx } = this.state
    into.set(tx!, 0)
    into.set(rx!, KEY_BYTES)
    sodium.sodium_memzero(tx!)
    sodium.sodium_memzero(rx!)
    this.state.tx = null
    this.state.rx = null
    this.destroy()
  }

  /** Erases whatever this handshake still holds (abandoned, refused or done). Safe to call twice. */
  destroy(): void {
    if (this.ended) return
    this.ended = true
    for (const out of this.dhOutputs) sodium.sodium_memzero(out)
    this.dhOutputs.length = 0
    const s = this.state
    // after a completed handshake the library has cleared these itself (its _clear); otherwise we do
    if (s.chainingKey !== null) sodium.sodium_memzero(s.chainingKey)
    if (s.key !== null) sodium.sodium_memzero(s.key)
    if (s.tx !== null) sodium.sodium_memzero(s.tx)
    if (s.rx !== null) sodium.sodium_memzero(s.rx)
    if (this.ephemeralSlot !== null) {
      ephemeralSlab.release(this.ephemeralSlot)
      this.ephemeralSlot = null
    }
  }

  /** Test seam: the buffers destroy() promises to zero, read before it runs. */
  secretsForTest(): Uint8Array[] {
    const s = this.state
    return [...this.dhOutputs, ...(this.ephemeralSlot ? [this.ephemeralSlot] : []), ...[s.chainingKey, s.key].filter((b): b is Uint8Array => b !== null)]
  }

  /** An ephemeral key pair whose scalar lives in secret memory (noise-curve-ed uses `scalar` as it is). */
  private makeEphemeral(): KeyPair {
    const scalar = ephemeralSlab.take()
    this.ephemeralSlot = scalar
    sodium.randombytes_buf(scalar)
    clamp(scalar)
    const publicKey = Buffer.alloc(KEY_BYTES)
    sodium.crypto_scalarmult_ed25519_base_noclamp(publicKey, scalar)
    // the library zeroes e.secretKey when it finishes: the scalar's own slot
    return { publicKey, secretKey: scalar, scalar }
  }

  private assertUsable(): void {
    if (this.failed || this.ended) throw new Error('handshake used after it failed or ended')
  }
}

/** Noise IK between two edges: the pair session's handshake. */
export class IkHandshake extends NoiseHandshake {
  /** The initiator's side: it knows the responder's static key (from its certificate) before it starts. */
  static initiator(local: StaticKey, remoteStatic: Uint8Array, prologue: Uint8Array): IkHandshake {
    if (remoteStatic.length !== KEY_BYTES) throw new RangeError('remoteStatic must be 32 bytes')
    return new IkHandshake('IK', local, true, prologue, remoteStatic)
  }

  static responder(local: StaticKey, prologue: Uint8Array): IkHandshake {
    return new IkHandshake('IK', local, false, prologue)
  }
}
