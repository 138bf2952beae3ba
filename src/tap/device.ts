// The TAP device as the edge sees it: Ethernet frames in and out. LinuxTap (linux-tap.ts, a small
// N-API addon) is the real one; MemoryTap (memory-tap.ts) is the test double.

/**
 * Called for each frame read from the host. `frame` is a view into a buffer the device reuses:
 * it is valid only until the callback returns (copy it to keep it).
 */
export type FrameReceiver = (frame: Buffer) => void

export interface TapDevice {
  /** interface name, e.g. "overlan0" */
  readonly name: string
  /** the device's own MAC (6 bytes) */
  readonly mac: Buffer
  /** MTU of the device (payload of an Ethernet frame, without its 14-byte header) */
  readonly mtu: number
  /** starts delivering frames read from the host to `receiver` (one receiver; a second call replaces it) */
  onFrame(receiver: FrameReceiver): void
  /** writes one Ethernet frame to the host; false when the device refused it (e.g. its queue is full) */
  write(frame: Buffer): boolean
  /** removes the device; safe to call twice */
  close(): Promise<void>
}
