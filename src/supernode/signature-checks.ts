// The Ed25519 checks of a registration (the authority's signature over a fresh certificate, the
// member's over its announcement), done on the supernode's thread or handed to a worker thread.
//
// Why a worker: a fresh registration costs two verifies (~46 µs each on the lab VM) and ~60 µs of
// everything else (sockets, cookie, registry). On one thread that is ~150 µs per registration;
// with the verifies on a second core the main thread spends ~65 µs and the worker ~95 µs, side by
// side (benchmarks/README.md, experiment 25).
//
// The hand-off is batched: the checks of one turn of the event loop (a recvmmsg batch of
// registrations) are packed into one buffer and moved (not copied) to the worker, which writes one
// byte per check, in order, at the buffer's start and moves it back. The buffers are pooled, so a
// batch allocates nothing on either side (a new buffer per batch left the worker's heap holding
// tens of MiB of them between its rare collections: RSS per edge over 2 KiB at 100,000).
// Verdicts come back in the order the checks went out, so two registrations of one edge complete
// in the order they arrived, as they did inline.
//
// Bounded: at most MAX_WAITING_CHECKS wait for a verdict; past it `verify` refuses (the caller
// counts a drop, the edge sends its REGISTER again). A worker that fails (it cannot load, it
// crashes) is not restarted: every check it held and every later one is done inline, so the
// supernode goes on at one thread's speed and says so once.
import { Worker } from 'node:worker_threads'
import sodium from 'sodium-native'
import { SIGNATURE_CONTEXT, verify, type SignatureContext } from '../crypto/sign.js'
import type { Logger } from '../log/logger.js'

/** One check: `signature` by `publicKey` over the context string followed by `message`. */
export interface SignatureCheck {
  context: SignatureContext
  message: Buffer
  signature: Buffer
  publicKey: Buffer
}

/** One verdict per check, in the order of the checks. */
export type VerdictCallback = (verdicts: boolean[]) => void

export interface SignatureVerifier {
  /** 'inline': verdicts before `verify` returns; 'worker': after a turn of the worker */
  readonly mode: 'inline' | 'worker'
  /**
   * Verdicts for `checks` to `done`. False when too many checks wait already: `done` is then never
   * called. The buffers of `checks` must stay unchanged until `done` (a worker that fails has them
   * checked again inline).
   */
  verify(checks: readonly SignatureCheck[], done: VerdictCallback): boolean
  /** checks handed out and not answered yet */
  readonly waiting: number
  /** Ends the worker; verdicts not yet given are never given. */
  close(): Promise<void>
}

/** Checks waiting for the worker at most: ~0.2 s of its verifies (2,048 fresh registrations), ~8 MiB of registrations held (memory-bound.ts). */
export const MAX_WAITING_CHECKS = 4096
/** A batch is posted when it holds this many checks, or at the end of the event loop's turn. */
const BATCH_CHECKS = 64
/** room for BATCH_CHECKS checks of a certificate body or an announcement (each under 500 bytes) */
const BATCH_BYTES = 32 * 1024
/** per check in a batch: the length of context + message (u16), the key, the signature */
const CHECK_HEADER_BYTES = 2 + 32 + 64
/** a length no message has: the check is malformed (a key or signature of the wrong size) and fails */
export const MALFORMED_CHECK = 0xffff

export function verifyInline(check: SignatureCheck): boolean {
  return verify(check.context, check.message, check.signature, check.publicKey)
}

export class InlineVerifier implements SignatureVerifier {
  readonly mode = 'inline'
  readonly waiting = 0

  verify(checks: readonly SignatureCheck[], done: VerdictCallback): boolean {
    done(checks.map(verifyInline))
    return true
  }

  async close(): Promise<void> {}
}

/** Checks packed for the worker, with what to call when their verdicts come back. */
interface Batch {
  buffer: ArrayBuffer
  bytes: Buffer
  used: number
  checks: SignatureCheck[]
  /** per verify() call: how many of `checks` are its own, and its callback */
  calls: { count: number; done: VerdictCallback }[]
}

function newBatch(buffer: ArrayBuffer): Batch {
  return { buffer, bytes: Buffer.from(buffer), used: 0, checks: [], calls: [] }
}

/** Batch buffers back from the worker, kept for the next batches. */
const POOLED_BUFFERS = 8

function packedSize(check: SignatureCheck): number {
  return CHECK_HEADER_BYTES + SIGNATURE_CONTEXT[check.context].length + check.message.length
}

/**
 * Writes `check` at `batch.used`: [length of context + message, u16 LE][key 32][signature 64][context][message],
 * or only [MALFORMED_CHECK][96 bytes] for a key or signature of the wrong size (it fails).
 */
function pack(batch: Batch, check: SignatureCheck): void {
  const out = batch.bytes
  const at = batch.used
  batch.checks.push(check)
  if (check.signature.length !== sodium.crypto_sign_BYTES || check.publicKey.length !== sodium.crypto_sign_PUBLICKEYBYTES) {
    out.writeUInt16LE(MALFORMED_CHECK, at)
    batch.used = at + CHECK_HEADER_BYTES
    return
  }
  const context = SIGNATURE_CONTEXT[check.context]
  out.writeUInt16LE(context.length + check.message.length, at)
  check.publicKey.copy(out, at + 2)
  check.signature.copy(out, at + 34)
  context.copy(out, at + CHECK_HEADER_BYTES)
  check.message.copy(out, at + CHECK_HEADER_BYTES + context.length)
  batch.used = at + CHECK_HEADER_BYTES + context.length + check.message.length
}

const WORKER_URL = new URL('./verify-worker.js', import.meta.url)
const WORKER_YOUNG_MB = 2
const WORKER_OLD_MB = 64

export class WorkerVerifier implements SignatureVerifier {
  private worker: Worker | null
  private open: Batch | null = null
  private flushScheduled = false
  /** posted, oldest first: the worker answers in this order */
  private readonly posted: Batch[] = []
  private waitingChecks = 0
  private closing = false
  private readonly pool: ArrayBuffer[] = []

  constructor(
    private readonly log: Logger,
    private readonly maxWaiting = MAX_WAITING_CHECKS,
    workerUrl: URL = WORKER_URL,
  ) {
    // the worker holds nothing but the batch in hand: a small young generation keeps its RSS near
    // its idle ~15 MiB under load (at the default size it grew by tens of MiB; memory-bound.ts counts
    // 16 MiB). The old generation's ceiling leaves room for what a loader adds (tap's TypeScript
    // and coverage hooks need more than 16 MiB); a worker that ran out would fail like any other
    // and leave the checks inline
    this.worker = new Worker(workerUrl, { resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB, maxOldGenerationSizeMb: WORKER_OLD_MB } })
    this.worker.on('message', (answered: ArrayBuffer) => this.answered(answered))
    this.worker.on('error', (err) => this.failed(`it failed: ${err.message}`))
    this.worker.on('exit', (code) => this.failed(`it exited with code ${code}`))
    // the worker keeps the process alive only while verdicts are out (ref'd in verify, unref'd when answered)
    this.worker.unref()
  }

  get mode(): 'inline' | 'worker' {
    return this.worker === null ? 'inline' : 'worker'
  }

  get waiting(): number {
    return this.waitingChecks
  }

  verify(checks: readonly SignatureCheck[], done: VerdictCallback): boolean {
    if (this.worker === null) {
      done(checks.map(verifyInline))
      return true
    }
    if (this.waitingChecks + checks.length > this.maxWaiting) return false
    // one call's checks go in one batch, so that its verdicts come back together
    const size = checks.reduce((sum, check) => sum + packedSize(check), 0)
    if (this.open !== null && this.open.used + size > this.open.bytes.length) this.flush()
    const batch = (this.open ??= newBatch(size <= BATCH_BYTES ? (this.pool.pop() ?? new ArrayBuffer(BATCH_BYTES)) : new ArrayBuffer(size)))
    for (const check of checks) pack(batch, check)
    batch.calls.push({ count: checks.length, done })
    if (this.waitingChecks === 0) this.worker.ref()
    this.waitingChecks += checks.length
    if (batch.checks.length >= BATCH_CHECKS) this.flush()
    else if (!this.flushScheduled) {
      this.flushScheduled = true
      // after the datagrams of this turn: they add to the same batch
      setImmediate(() => {
        this.flushScheduled = false
        this.flush()
      })
    }
    return true
  }

  private flush(): void {
    const batch = this.open
    if (batch === null || this.worker === null) return
    this.open = null
    this.posted.push(batch)
    // moved, not copied: this side never reads it again
    this.worker.postMessage({ count: batch.checks.length, bytes: batch.buffer }, [batch.buffer])
  }

  /** `answered`: the oldest posted batch's buffer, its first bytes the verdicts */
  private answered(answered: ArrayBuffer): void {
    const batch = this.posted.shift()
    if (batch === undefined) return
    const verdicts = new Uint8Array(answered, 0, batch.checks.length)
    this.deliver(batch, (i) => verdicts[i] === 1)
    if (answered.byteLength === BATCH_BYTES && this.pool.length < POOLED_BUFFERS) this.pool.push(answered)
    if (this.waitingChecks === 0) this.worker?.unref()
  }

  private deliver(batch: Batch, verdictOf: (index: number) => boolean): void {
    let index = 0
    for (const call of batch.calls) {
      const verdicts: boolean[] = []
      for (let i = 0; i < call.count; i++) verdicts.push(verdictOf(index++))
      this.waitingChecks -= call.count
      call.done(verdicts)
    }
  }

  /** The worker is gone: what it held, then what waits to be posted, is checked here, in order. */
  private failed(why: string): void {
    if (this.worker === null || this.closing) return
    this.worker = null
    this.log.warn(`signature worker stopped (${why}): registrations are verified on the main thread from now on`)
    const held = [...this.posted.splice(0), ...(this.open === null ? [] : [this.open])]
    this.open = null
    for (const batch of held) this.deliver(batch, (i) => verifyInline(batch.checks[i]!))
  }

  async close(): Promise<void> {
    this.closing = true
    const worker = this.worker
    this.worker = null
    this.open = null
    this.posted.length = 0
    this.waitingChecks = 0
    await worker?.terminate()
  }
}
