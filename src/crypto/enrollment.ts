// The enrollment handshake: a technician who holds a join token (its enrollment secret and the
// device's key) proves it to the device's edge, and learns that it talks to that device, before the
// device's owner is even asked. Noise_XXpsk0_Ed25519_ChaChaPoly_BLAKE2b (noise-handshake, with the
// hygiene of noise-ik.ts): the PSK is the token's enrollment secret, so a message 1 made without it
// fails its tag before the device does any DH; the device's static key is checked against the
// token's by the technician; the technician's static key is the identity its certificate will bind.
// After the handshake both sides exchange sealed messages (polls, answers) under the transport keys,
// each with a counter that only grows. Refusals of untrusted bytes are values, never throws.
import { decodeEnrollRequestBody, decodeEnrollStatus, encodeEnrollRequestBody, encodeEnrollStatus, ENROLL_POLL, EXCHANGE_BYTES, type EnrollRequestBody, type EnrollStatus } from '../wire/enroll.js'
import { readU53, writeU53 } from '../wire/cursor.js'
import { AEAD_HEADER_BYTES, AEAD_TAG_BYTES, openAfterHeader, sealAfterHeader } from './counter-aead.js'
import { KEY_BYTES, NoiseHandshake, TRANSPORT_KEYS_BYTES, type HandshakeFailure, type StaticKey } from './noise-ik.js'
import { ReplayWindow } from './replay.js'
import { destroySecret, secretBuffer } from './secure-memory.js'

export const ENROLLMENT_VERSION = 1
const PROLOGUE_LABEL = 'overlan enrollment'
export const ENROLLMENT_SECRET_BYTES = 32
/** A sealed message: counter (8) ‖ ciphertext ‖ tag; the AEAD's header (associated data) is exchange ‖ counter. */
const COUNTER_BYTES = 8

/** "overlan enrollment" ‖ version ‖ community ID: a handshake made for another community or version never completes. */
export function enrollmentPrologue(communityId: Uint8Array): Buffer {
  if (communityId.length === 0) throw new RangeError('communityId must not be empty')
  return Buffer.concat([Buffer.from(PROLOGUE_LABEL), Buffer.from([ENROLLMENT_VERSION]), communityId])
}

export type EnrollmentFailure =
  | HandshakeFailure
  /** the responder's static key is not the token's device key: someone else answered */
  | 'wrong-device-key'
  /** a decrypted payload that does not decode (wire/enroll.ts says why) */
  | 'bad-payload'
  /** a sealed message that does not authenticate */
  | 'sealed-decrypt-failed'
  /** a sealed message whose counter was used already (or is too old) */
  | 'replayed'
  /** a message of the wrong step for where the handshake is */
  | 'out-of-order'
  /** a good hello the responder's caller had no capacity for (its rate limit) */
  | 'rate-limited'

export type Refusal = { ok: false; reason: EnrollmentFailure }

interface Setup {
  local: StaticKey
  communityId: Uint8Array
  /** the enrollment secret (32 bytes, the caller's secret memory) */
  secret: Uint8Array
  /** 8 bytes naming this exchange: bound into every sealed message */
  exchange: Uint8Array
}

/** What both sides share after the handshake: transport keys in secret memory, a send counter, a replay window. */
class EnrollmentBase extends NoiseHandshake {
  private keys: Buffer | null = null
  private sent = 0
  private readonly window = new ReplayWindow()
  private readonly exchange: Buffer

  protected constructor(setup: Setup, initiator: boolean) {
    if (setup.secret.length !== ENROLLMENT_SECRET_BYTES) throw new RangeError(`the enrollment secret is ${ENROLLMENT_SECRET_BYTES} bytes`)
    if (setup.exchange.length !== EXCHANGE_BYTES) throw new RangeError(`an exchange is ${EXCHANGE_BYTES} bytes`)
    super('XXpsk0', setup.local, initiator, enrollmentPrologue(setup.communityId), undefined, setup.secret)
    this.exchange = Buffer.from(setup.exchange)
  }

  /** True once the handshake's three messages are through: sealed messages may flow. */
  get sealed(): boolean {
    return this.keys !== null
  }

  protected takeKeys(): void {
    this.keys = secretBuffer(TRANSPORT_KEYS_BYTES)
    this.takeTransportKeys(this.keys)
  }

  protected seal(plaintext: Buffer): Buffer {
    if (this.keys === null) throw new Error('seal before the enrollment handshake completed')
    const counter = ++this.sent
    const out = Buffer.alloc(AEAD_HEADER_BYTES + plaintext.length + AEAD_TAG_BYTES)
    this.exchange.copy(out, 0)
    writeU53(out, EXCHANGE_BYTES, counter)
    sealAfterHeader(out, plaintext, counter, this.keys.subarray(0, KEY_BYTES))
    // the exchange travels in the ENROLL header: the message starts at the counter
    return out.subarray(EXCHANGE_BYTES)
  }

  protected open(message: Buffer): { ok: true; plaintext: Buffer } | Refusal {
    if (this.keys === null) return { ok: false, reason: 'out-of-order' }
    if (message.length < COUNTER_BYTES + AEAD_TAG_BYTES) return { ok: false, reason: 'sealed-decrypt-failed' }
    const counter = readU53(message, 0)
    if (counter < 1) return { ok: false, reason: 'sealed-decrypt-failed' }
    if (this.window.check(counter) !== 'fresh') return { ok: false, reason: 'replayed' }
    const packet = Buffer.concat([this.exchange, message])
    const plaintext = Buffer.alloc(packet.length - AEAD_HEADER_BYTES - AEAD_TAG_BYTES)
    if (openAfterHeader(packet, counter, this.keys.subarray(KEY_BYTES), plaintext) < 0) return { ok: false, reason: 'sealed-decrypt-failed' }
    this.window.accept(counter)
    return { ok: true, plaintext }
  }

  /** Erases the transport keys and whatever the handshake still holds. Safe to call twice. */
  end(): void {
    // (destroy() alone is what takeTransportKeys calls when it has copied the keys out: not here)
    this.destroy()
    if (this.keys !== null) destroySecret(this.keys)
  }
}

/** The technician's side: hello, then (after the device's challenge) its request, then polls. */
export class EnrollmentInitiator extends EnrollmentBase {
  private step: 'hello' | 'challenge' | 'request' | 'sealed' | 'failed' = 'hello'

  private constructor(
    setup: Setup,
    private readonly deviceKey: Buffer,
  ) {
    super(setup, true)
  }

  /** `deviceKey`: the join token's; the challenge must come from it. */
  static start(setup: Setup & { deviceKey: Uint8Array }): EnrollmentInitiator {
    if (setup.deviceKey.length !== KEY_BYTES) throw new RangeError('deviceKey must be 32 bytes')
    return new EnrollmentInitiator(setup, Buffer.from(setup.deviceKey))
  }

  /** Message 1 (-> psk, e): no payload; it proves the secret to the device without any DH on its side. */
  hello(): Buffer {
    this.expect('hello')
    this.step = 'challenge'
    return this.write(Buffer.alloc(0))
  }

  /** Message 2 (<- e, ee, s, es), untrusted: refused unless it comes from the token's device key. */
  readChallenge(message: Buffer): { ok: true } | Refusal {
    if (this.step !== 'challenge') return { ok: false, reason: 'out-of-order' }
    const read = this.read(message)
    // any refusal spends the handshake (the library's state has moved on): the caller starts a new exchange
    this.step = 'failed'
    if (!read.ok) return read
    const remote = this.remoteStatic
    if (remote === null || !remote.equals(this.deviceKey)) return { ok: false, reason: 'wrong-device-key' }
    if (read.payload.length !== 0) return { ok: false, reason: 'bad-payload' }
    this.step = 'request'
    return { ok: true }
  }

  /** Message 3 (-> s, se) carrying the request; the handshake is complete after it. */
  request(body: EnrollRequestBody): Buffer {
    this.expect('request')
    const message = this.write(encodeEnrollRequestBody(body))
    this.takeKeys()
    this.step = 'sealed'
    return message
  }

  /** A sealed poll: "still here, what is the answer?" */
  poll(): Buffer {
    this.expect('sealed')
    return this.seal(ENROLL_POLL)
  }

  /** The device's sealed answer (to the request or to a poll), untrusted. */
  openStatus(message: Buffer): { ok: true; status: EnrollStatus } | Refusal {
    const opened = this.open(message)
    if (!opened.ok) return opened
    const status = decodeEnrollStatus(opened.plaintext)
    return status.ok ? { ok: true, status: status.value } : { ok: false, reason: 'bad-payload' }
  }

  private expect(step: EnrollmentInitiator['step']): void {
    if (this.step !== step) throw new Error(`enrollment: ${step} called at step ${this.step}`)
  }
}

/** The device's side: reads the hello, sends its challenge, reads the request, answers polls. */
export class EnrollmentResponder extends EnrollmentBase {
  private step: 'hello' | 'request' | 'sealed' | 'failed' = 'hello'

  private constructor(setup: Setup) {
    super(setup, false)
  }

  static start(setup: Setup): EnrollmentResponder {
    return new EnrollmentResponder(setup)
  }

  /**
   * Message 1, untrusted. With a wrong secret its (empty) payload fails its tag before any DH: a
   * stranger costs the device two HKDFs. On success, and when `admit` agrees, the challenge
   * (message 2) to send back.
   */
  readHello(message: Buffer, admit: () => boolean = () => true): { ok: true; challenge: Buffer } | Refusal {
    if (this.step !== 'hello') return { ok: false, reason: 'out-of-order' }
    const read = this.read(message)
    if (!read.ok) return this.fail(read.reason)
    if (read.payload.length !== 0) return this.fail('bad-payload')
    // the secret is proven; `admit` (a rate limit) decides whether the DH work is done now
    if (!admit()) return this.fail('rate-limited')
    this.step = 'request'
    return { ok: true, challenge: this.write(Buffer.alloc(0)) }
  }

  /** Message 3, untrusted: the technician's key (proven by the handshake) and what it asks. */
  readRequest(message: Buffer): { ok: true; publicKey: Buffer; body: EnrollRequestBody } | Refusal {
    if (this.step !== 'request') return { ok: false, reason: 'out-of-order' }
    const read = this.read(message)
    if (!read.ok) return this.fail(read.reason)
    const publicKey = this.remoteStatic
    const body = decodeEnrollRequestBody(read.payload)
    if (!body.ok || publicKey === null) return this.fail('bad-payload')
    this.takeKeys()
    this.step = 'sealed'
    return { ok: true, publicKey, body: body.value }
  }

  /** A sealed poll, untrusted. */
  openPoll(message: Buffer): { ok: true } | Refusal {
    if (this.step !== 'sealed') return { ok: false, reason: 'out-of-order' }
    const opened = this.open(message)
    if (!opened.ok) return opened
    return opened.plaintext.equals(ENROLL_POLL) ? { ok: true } : { ok: false, reason: 'bad-payload' }
  }

  sealStatus(status: EnrollStatus): Buffer {
    return this.seal(encodeEnrollStatus(status))
  }

  private fail(reason: EnrollmentFailure): Refusal {
    this.step = 'failed'
    return { ok: false, reason }
  }
}
