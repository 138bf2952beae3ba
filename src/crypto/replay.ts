// Sliding replay window, one per sender: accepts each counter at most once, and counters up to
// WINDOW behind the highest seen (packets reordered by the network), refuses older ones.
// Check first, open (authenticate), then accept: a forged packet must not move the window.

/** 2048 counters: ≥ 1024 as the protocol asks, and a burst of reordering on a fast path fits. */
export const REPLAY_WINDOW = 2048
const WORDS = REPLAY_WINDOW / 32

export type ReplayVerdict = 'fresh' | 'replayed' | 'too-old'

export class ReplayWindow {
  /** highest counter accepted so far (0: none yet; counters start at 1) */
  private top = 0
  private readonly bits = new Uint32Array(WORDS)

  check(counter: number): ReplayVerdict {
    if (counter > this.top) return 'fresh'
    if (this.top - counter >= REPLAY_WINDOW) return 'too-old'
    const slot = counter & (REPLAY_WINDOW - 1)
    return (this.bits[slot >>> 5]! & (1 << (slot & 31))) === 0 ? 'fresh' : 'replayed'
  }

  /** Records a counter that check() called fresh and whose packet authenticated. */
  accept(counter: number): void {
    if (counter > this.top) {
      const advance = counter - this.top
      if (advance >= REPLAY_WINDOW) {
        this.bits.fill(0)
      } else {
        for (let c = this.top + 1; c <= counter; c++) {
          const slot = c & (REPLAY_WINDOW - 1)
          this.bits[slot >>> 5]! &= ~(1 << (slot & 31))
        }
      }
      this.top = counter
    }
    const slot = counter & (REPLAY_WINDOW - 1)
    this.bits[slot >>> 5]! |= 1 << (slot & 31)
  }

  /**
   * Refuses every counter up to `counter` from now on: the window of a sender we forgot and meet
   * again (its own counter only grows, so what it sends next is above).
   */
  refuseUpTo(counter: number): void {
    if (counter <= this.top) return
    this.top = counter
    this.bits.fill(0xffffffff)
  }

  get highest(): number {
    return this.top
  }
}
