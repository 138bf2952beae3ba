// Where long-lived secrets live: sodium's guarded memory (sodium_malloc), locked in RAM so that it
// is never written to swap, with guard pages around it. destroySecret zeroes it when its session
// ends; the pages go back to libsodium (which zeroes them again and unlocks them) when the Buffer
// is collected. Where the OS refuses to lock (RLIMIT_MEMLOCK, for an unprivileged user), a secret
// lives in ordinary memory instead, still zeroed by destroySecret: said once, not per key.
// Callers ask for secret buffers here and never call sodium_malloc themselves.
import sodium from 'sodium-native'
import type { Logger } from '../log/logger.js'

export interface SecretAllocatorDeps {
  /** locks a sodium_malloc'ed buffer's pages in RAM; false when the OS refuses (tests make it refuse) */
  lock?: (buf: Buffer) => boolean
  /** told once, at the first secret that cannot be locked */
  report?: (message: string) => void
}

export interface SecretMemoryCounts {
  /** secrets made in locked, guarded memory */
  locked: number
  /** secrets made in ordinary memory because locking was refused */
  unlocked: number
}

/** libsodium's own sodium_malloc tries mlock and ignores a refusal: ask again to learn the answer. */
function lockPages(buf: Buffer): boolean {
  try {
    sodium.sodium_mlock(buf)
    return true
  } catch {
    return false
  }
}

export class SecretAllocator {
  readonly counts: SecretMemoryCounts = { locked: 0, unlocked: 0 }
  private readonly lock: (buf: Buffer) => boolean
  private report: (message: string) => void

  constructor(deps: SecretAllocatorDeps = {}) {
    this.lock = deps.lock ?? lockPages
    // Node's warning channel until the CLI says where its log is: a library user still hears of it
    this.report = deps.report ?? ((message) => process.emitWarning(message))
  }

  /** Where the one fallback message goes: the CLI's log, as a warning. */
  reportTo(logger: Pick<Logger, 'warn'>): void {
    this.report = (message) => logger.warn(message)
  }

  /** `size` zero bytes for a secret. */
  alloc(size: number): Buffer {
    const secure = sodium.sodium_malloc(size)
    if (this.lock(secure)) {
      this.counts.locked++
      secure.fill(0)
      return secure
    }
    sodium.sodium_free(secure)
    if (this.counts.unlocked++ === 0) {
      this.report(
        'cannot lock memory for keys (RLIMIT_MEMLOCK; raise it with LimitMEMLOCK= or ulimit -l, or run with CAP_IPC_LOCK): keys are kept in ordinary memory, which may be swapped; they are still zeroed when their session ends',
      )
    }
    // Buffer.alloc, never allocUnsafe: a pooled slab would share pages with other data
    return Buffer.alloc(size)
  }

  /** A secret copy of `text` (UTF-8) or of `bytes`, written straight into secret memory. */
  copyOf(source: string | Uint8Array): Buffer {
    if (typeof source === 'string') {
      const buf = this.alloc(Buffer.byteLength(source))
      buf.write(source, 'utf8')
      return buf
    }
    const buf = this.alloc(source.length)
    buf.set(source)
    return buf
  }
}

/** The process's allocator: RLIMIT_MEMLOCK is per process, so is the one fallback message. */
export const secretMemory = new SecretAllocator()

/** `size` zero bytes in secret memory (see the top of this file). */
export function secretBuffer(size: number): Buffer {
  return secretMemory.alloc(size)
}

/** Zeroes a secret whose session has ended. Its Buffer stays valid (all zeros) for whoever still holds it. */
export function destroySecret(buf: Uint8Array): void {
  sodium.sodium_memzero(buf)
}
