// The clock skew a supernode sees: its clock, read when it answered, minus ours at the same moment.
// We do not know when within the round trip it read its clock, so we take the middle (as NTP does);
// the error is at most half the round trip.

/** Supernode time minus local time, in ms: positive when the supernode's clock is ahead of ours. */
export function clockSkewMs(sentAtMs: number, receivedAtMs: number, supernodeTimeMs: number): number {
  return Math.round(supernodeTimeMs - (sentAtMs + receivedAtMs) / 2)
}
