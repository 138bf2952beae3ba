// Many small secrets in few pages: a pair session's transport keys are 64 bytes, and a device with
// 999 peers holds two or three sets per peer. One sodium_malloc per key would lock a page (4 KiB) each
// and exhaust RLIMIT_MEMLOCK (8 MiB by default) at ~2,000 keys; a slab takes one secret buffer
// (secure-memory.ts) for SLOTS_PER_SLAB slots and hands out views of it, zeroed on release.

import { destroySecret, secretBuffer } from './secure-memory.js'

/** 64 slots of 64 bytes: one 4 KiB page of locked memory holds the keys of 64 sessions. */
export const SLOTS_PER_SLAB = 64

export class SecretSlab {
  private readonly slabs: Buffer[] = []
  private readonly free: Buffer[] = []
  private inUse = 0

  /** `slotBytes`: the size of every slot; `alloc` makes the backing memory (secure-memory.ts by default). */
  constructor(
    readonly slotBytes: number,
    private readonly alloc: (size: number) => Buffer = secretBuffer,
  ) {
    if (!Number.isInteger(slotBytes) || slotBytes < 1) throw new RangeError(`slotBytes must be a positive integer, got ${slotBytes}`)
  }

  /** `slotBytes` zero bytes of secret memory; give it back with release(). */
  take(): Buffer {
    let slot = this.free.pop()
    if (slot === undefined) {
      const slab = this.alloc(this.slotBytes * SLOTS_PER_SLAB)
      this.slabs.push(slab)
      for (let i = SLOTS_PER_SLAB - 1; i > 0; i--) this.free.push(slab.subarray(i * this.slotBytes, (i + 1) * this.slotBytes))
      slot = slab.subarray(0, this.slotBytes)
    }
    this.inUse++
    return slot
  }

  /** Zeroes a slot and makes it available again. The caller must drop its reference. */
  release(slot: Buffer): void {
    destroySecret(slot)
    this.inUse--
    this.free.push(slot)
  }

  get counts(): { slabs: number; inUse: number } {
    return { slabs: this.slabs.length, inUse: this.inUse }
  }
}
