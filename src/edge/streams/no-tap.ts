// The device of a userspace edge (--userspace): there is none. The edge still needs a MAC (its
// certificate binds one) and a place for the frames peers send (ARP, broadcasts): they are counted
// and dropped. Nothing here opens a file or calls the kernel, so a technician needs no root.
import type { FrameReceiver, TapDevice } from '../../tap/device.js'

export const USERSPACE_DEVICE_NAME = 'userspace'

export class NoTap implements TapDevice {
  readonly name = USERSPACE_DEVICE_NAME
  /** frames peers sent to this host: there is no host stack to take them */
  framesDropped = 0

  constructor(
    readonly mac: Buffer,
    readonly mtu = 1390,
  ) {}

  onFrame(_receiver: FrameReceiver): void {
    // no host stack: nothing ever comes from it
  }

  write(_frame: Buffer): boolean {
    this.framesDropped++
    return true
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}
