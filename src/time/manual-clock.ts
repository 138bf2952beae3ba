// A clock that moves only when told: advance(ms) runs every timer due, in time order, and lets
// I/O that those timers started (loopback UDP) complete between steps; suspend(ms) moves the wall
// clock alone, as a system suspend does.
import { setImmediate as yieldToIo } from 'node:timers/promises'
import type { Clock, TimerHandle } from './clock.js'

interface Timer {
  at: number
  every: number
  fn: () => void
  cancelled: boolean
}

export class ManualClock implements Clock {
  private timers: Timer[] = []

  constructor(private current = Date.UTC(2026, 0, 1)) {}

  now(): number {
    return this.current
  }

  after(ms: number, fn: () => void): TimerHandle {
    return this.add({ at: this.current + Math.max(0, ms), every: 0, fn, cancelled: false })
  }

  every(ms: number, fn: () => void): TimerHandle {
    return this.add({ at: this.current + Math.max(1, ms), every: Math.max(1, ms), fn, cancelled: false })
  }

  /** Moves time forward by `ms` in steps of at most `stepMs`, running due timers and yielding to I/O after each step. */
  async advance(ms: number, stepMs = 50): Promise<void> {
    const end = this.current + ms
    while (this.current < end) {
      this.current = Math.min(end, this.current + stepMs)
      this.runDue()
      for (let i = 0; i < 5; i++) await yieldToIo()
    }
  }

  /** Moves time by `ms` at once (24 hours, say) and runs what became due, in order. */
  jump(ms: number): void {
    this.current += ms
    this.runDue()
  }

  /**
   * The machine sleeps for `ms`: the wall clock (now()) moves, the monotonic clock that timers run on
   * does not, so nothing runs and every pending timer is still as far away as before.
   */
  suspend(ms: number): void {
    this.current += ms
    for (const timer of this.timers) timer.at += ms
  }

  get pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length
  }

  private add(timer: Timer): TimerHandle {
    this.timers.push(timer)
    return { cancel: () => void (timer.cancelled = true) }
  }

  private runDue(): void {
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled)
      const due = this.timers.filter((t) => t.at <= this.current).sort((a, b) => a.at - b.at)[0]
      if (due === undefined) return
      if (due.every > 0) due.at += due.every
      else due.cancelled = true
      due.fn()
    }
  }
}
