// Registered edges in the order their certificates end: the supernode unregisters each at its
// notAfter whatever the edge's own clock says. A binary min-heap that knows where each entry sits
// (expiryIndex), so that an edge that leaves or registers with another certificate is moved or
// taken out exactly: the queue never holds more than the registered edges, however often they
// re-register, and a clock that jumps by hours costs one pop per edge that ended, not one step per
// second skipped.

export interface Expiring {
  /** seconds since the epoch: the first second the certificate is no longer valid */
  notAfter: number
  /** where the entry sits in its queue; NOT_QUEUED when in none */
  expiryIndex: number
}

export const NOT_QUEUED = -1

export class ExpiryQueue<T extends Expiring> {
  private readonly heap: T[] = []

  get size(): number {
    return this.heap.length
  }

  /** Queues `item` under its notAfter, or moves it there when it is queued already (a new certificate). */
  set(item: T): void {
    if (item.expiryIndex !== NOT_QUEUED) this.remove(item)
    item.expiryIndex = this.heap.length
    this.heap.push(item)
    this.up(item.expiryIndex)
  }

  remove(item: T): void {
    const at = item.expiryIndex
    if (at === NOT_QUEUED || this.heap[at] !== item) return
    item.expiryIndex = NOT_QUEUED
    const last = this.heap.pop()!
    if (at === this.heap.length) return
    this.heap[at] = last
    last.expiryIndex = at
    this.down(at)
    this.up(last.expiryIndex)
  }

  /** The entry that ends first, when it has ended by `nowSeconds` (taken out of the queue); undefined otherwise. */
  popDue(nowSeconds: number): T | undefined {
    const first = this.heap[0]
    if (first === undefined || first.notAfter > nowSeconds) return undefined
    this.remove(first)
    return first
  }

  private up(at: number): void {
    const heap = this.heap
    while (at > 0) {
      const parent = (at - 1) >> 1
      if (heap[parent]!.notAfter <= heap[at]!.notAfter) return
      this.swap(at, parent)
      at = parent
    }
  }

  private down(at: number): void {
    const heap = this.heap
    for (;;) {
      const left = 2 * at + 1
      const right = left + 1
      let least = at
      if (left < heap.length && heap[left]!.notAfter < heap[least]!.notAfter) least = left
      if (right < heap.length && heap[right]!.notAfter < heap[least]!.notAfter) least = right
      if (least === at) return
      this.swap(at, least)
      at = least
    }
  }

  private swap(a: number, b: number): void {
    const heap = this.heap
    const x = heap[a]!
    const y = heap[b]!
    heap[a] = y
    heap[b] = x
    x.expiryIndex = b
    y.expiryIndex = a
  }
}
