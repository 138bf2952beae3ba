// The real TAP device on Linux: a thin wrapper over the N-API addon in native/ (tap.c), which
// reads frames in batches on libuv's poll and writes them straight to the fd.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { isIP } from 'node:net'
import { addonPath, loadAddon } from '../native/addon.js'
import { formatMac } from '../wire/fields.js'
import type { FrameReceiver, TapDevice } from './device.js'
import { TcpCoalescer } from './tcp-coalescer.js'

/** What went wrong, so that the CLI can print one line and exit 2. */
export type TapErrorKind = 'no-tun' | 'permission' | 'busy' | 'other'

export class TapError extends Error {
  override readonly name = 'TapError'
  /** errno name from the system call when there was one (e.g. "EBUSY") */
  readonly code: string | undefined

  constructor(
    readonly kind: TapErrorKind,
    message: string,
    options: { code?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause })
    this.code = options.code
  }
}

export interface LinuxTapOptions {
  /** interface name (at most 15 characters); a pattern such as "overlan%d" lets the kernel pick */
  name?: string
  /** the device's MAC; a random locally administered unicast MAC when absent */
  mac?: Buffer
  /** link MTU, 68 to 65521 */
  mtu?: number
}

/** Counters of the data path, plain numbers so that reading them costs nothing. */
export interface LinuxTapStats {
  /** frames delivered to the receiver */
  frames: number
  /** wake-ups that delivered at least one frame */
  batches: number
  largestBatch: number
  /** writes the kernel refused (queue full, no memory, link down, device gone), in frames */
  writeRefused: number
  /** runs of TCP segments handed to the kernel as one (receive coalescing) */
  mergedRuns: number
  /** TCP segments kept out of a run because a checksum was wrong: written alone, for the kernel to drop */
  badChecksums: number
}

export const DEFAULT_TAP_NAME = 'overlan%d'
/** Fits an IPv4 path of 1500 bytes: 1400 + 14 Ethernet + 44 overlay + 8 UDP + 20 IPv4 = 1486. */
export const DEFAULT_TAP_MTU = 1400
// The kernel's limits for a TAP device: ETH_MIN_MTU, and 65535 less the Ethernet header.
const MIN_MTU = 68
const MAX_MTU = 65521
const MIN_FRAME_BYTES = 14
// Linux's IFNAMSIZ less the terminating NUL; the kernel also refuses '/', ':' and whitespace.
const VALID_NAME = /^[^\s/:]{1,15}$/

interface NativeTap {
  handle: unknown
  name: string
  frames: Buffer
  lengths: Int32Array
  slot: number
}

interface NativeAddon {
  open(name: string, mac: Buffer, mtu: number): NativeTap
  start(handle: unknown, onBatch: (count: number, error: string | undefined) => void): void
  write(handle: unknown, frame: Uint8Array, segmentBytes?: number, headerBytes?: number, checksumStart?: number): boolean
  close(handle: unknown): void
  counters(handle: unknown): { oversize: number; superFrames: number }
}

let addon: NativeAddon | null = null

// Loaded on first use, so that importing this module never fails where the addon was not built
// (macOS, a checkout without g++): only opening a device does.
function loadTapAddon(): NativeAddon {
  if (addon !== null) return addon
  const path = addonPath('overlan_tap')
  if (path === null) throw new TapError('other', 'the TAP addon is not built: run npm ci (needs python3, make, g++), or join without a TAP device with --userspace')
  try {
    addon = loadAddon<NativeAddon>(path)
  } catch (error) {
    throw new TapError('other', `the TAP addon does not load (${(error as Error).message}): rebuild it with npm run install`, {
      cause: error,
    })
  }
  return addon
}

function classify(error: unknown): TapError {
  const { code, syscall, message } = error as { code?: string; syscall?: string; message?: string }
  let kind: TapErrorKind = 'other'
  if (code === 'EPERM' || code === 'EACCES') kind = 'permission'
  else if (code === 'EBUSY' || code === 'EEXIST') kind = 'busy'
  else if (syscall === 'open' && (code === 'ENOENT' || code === 'ENODEV' || code === 'ENXIO')) kind = 'no-tun'
  return new TapError(kind, message ?? String(error), { code, cause: error })
}

/** A random locally administered unicast MAC, as a fresh edge needs one that no vendor owns. */
export function randomMac(): Buffer {
  const mac = randomBytes(6)
  mac[0] = (mac[0]! & 0xfe) | 0x02
  return mac
}

/**
 * Creates a TAP device, sets its MAC and MTU and brings it up. Needs root or CAP_NET_ADMIN.
 * Rejects with a TapError whose `kind` tells the cause: 'no-tun' (no /dev/net/tun), 'permission',
 * 'busy' (the name is taken), 'other' (invalid options, addon not built, …).
 */
export function openLinuxTap(options: LinuxTapOptions = {}): Promise<LinuxTap> {
  try {
    return Promise.resolve(openNow(options))
  } catch (error) {
    return Promise.reject(error instanceof TapError ? error : classify(error))
  }
}

function openNow(options: LinuxTapOptions): LinuxTap {
  const name = options.name ?? DEFAULT_TAP_NAME
  if (!VALID_NAME.test(name) || name === '.' || name === '..') {
    throw new TapError('other', `invalid TAP device name "${name}": at most 15 characters, without '/', ':' or whitespace`)
  }
  const mac = options.mac === undefined ? randomMac() : Buffer.from(options.mac)
  if (mac.length !== 6 || (mac[0]! & 0x01) !== 0 || mac.every((b) => b === 0)) {
    throw new TapError('other', `invalid TAP MAC address ${formatMac(mac)}: it must be 6 bytes, unicast and not all zero`)
  }
  const mtu = options.mtu ?? DEFAULT_TAP_MTU
  if (!Number.isInteger(mtu) || mtu < MIN_MTU || mtu > MAX_MTU) {
    throw new TapError('other', `invalid TAP MTU ${mtu}: it must be an integer from ${MIN_MTU} to ${MAX_MTU}`)
  }
  const native = loadTapAddon()
  return new LinuxTap(native, native.open(name, mac, mtu), mac, mtu)
}

/**
 * A Linux TAP device owned by this process: it exists while the process holds it open and goes
 * away on close() (or with the process).
 */
export class LinuxTap implements TapDevice {
  readonly name: string
  readonly stats: LinuxTapStats = { frames: 0, batches: 0, largestBatch: 0, writeRefused: 0, mergedRuns: 0, badChecksums: 0 }
  private receiver: FrameReceiver | null = null
  private errorHandler: ((error: TapError) => void) | null = null
  private started = false
  private closed = false
  private netns: string | null = null
  private readonly handle: unknown
  private readonly frames: Buffer
  private readonly lengths: Int32Array
  private readonly slot: number
  private readonly coalescer: TcpCoalescer
  private flushScheduled = false

  /** Use openLinuxTap(). */
  constructor(
    private readonly native: NativeAddon,
    device: NativeTap,
    readonly mac: Buffer,
    readonly mtu: number,
  ) {
    this.name = device.name
    this.handle = device.handle
    this.frames = device.frames
    this.lengths = device.lengths
    this.slot = device.slot
    this.coalescer = new TcpCoalescer({
      writeFrame: (frame) => this.native.write(this.handle, frame),
      writeRun: (frame, segmentBytes, headerBytes, checksumStart) => this.native.write(this.handle, frame, segmentBytes, headerBytes, checksumStart),
    })
  }

  /**
   * Delivers frames read from the host to `receiver`, one call per frame. The frame is a view
   * into a buffer reused for the next batch: valid only until the call returns (copy to keep).
   * A second call replaces the receiver.
   */
  onFrame(receiver: FrameReceiver): void {
    this.receiver = receiver
    if (this.started || this.closed) return
    this.started = true
    this.native.start(this.handle, this.deliver)
  }

  /**
   * Called once if reading fails for good (the device was deleted, or moved into a namespace
   * that was then removed); reading stops. Without a handler the error is thrown from the event
   * loop, which ends the process: an edge without its device has nothing left to do.
   */
  onError(handler: (error: TapError) => void): void {
    this.errorHandler = handler
  }

  /** Runs of TCP segments the host handed over as one (segmentation offload), cut into segments by the addon. */
  get superFrames(): number {
    return this.native.counters(this.handle).superFrames
  }

  /** Frames dropped because they were larger than MTU + 18 bytes (the MTU was raised behind our back). */
  get oversizeDropped(): number {
    return this.native.counters(this.handle).oversize
  }

  /**
   * Writes one Ethernet frame to the host. A TCP segment may be held (copied) until the end of
   * this turn of the event loop, to go up with the next ones of its flow as one packet
   * (tcp-coalescer.ts). False when the kernel refused the frame for now or the device is closed;
   * frames of a held run that the kernel refuses are counted in stats.writeRefused. Throws
   * RangeError for a frame shorter than an Ethernet header: the caller should never have passed it on.
   */
  write(frame: Buffer): boolean {
    if (this.closed) return false
    if (frame.length < MIN_FRAME_BYTES) throw new RangeError(`a frame of ${frame.length} bytes is shorter than an Ethernet header`)
    const accepted = this.coalescer.write(frame)
    if (!accepted) this.stats.writeRefused++
    this.stats.badChecksums = this.coalescer.badChecksums
    // a run held goes to the kernel when this turn's work is over (a batch of datagrams, say)
    if (this.coalescer.holding && !this.flushScheduled) {
      this.flushScheduled = true
      queueMicrotask(this.flushRun)
    }
    return accepted
  }

  private readonly flushRun = (): void => {
    this.flushScheduled = false
    if (this.closed) return
    const refusedBefore = this.coalescer.refused
    const mergedBefore = this.coalescer.merged
    this.coalescer.flush()
    this.stats.writeRefused += this.coalescer.refused - refusedBefore
    this.stats.mergedRuns += this.coalescer.merged - mergedBefore
  }

  /** Removes the device. Safe to call twice. */
  close(): Promise<void> {
    if (!this.closed) {
      this.flushRun()
      this.closed = true
      this.native.close(this.handle)
    }
    return Promise.resolve()
  }

  /**
   * Moves the device into network namespace `netns` (the fd stays attached) and brings it up
   * there, as the move takes it down; addAddress() and addresses() then act inside `netns`.
   * For the namespace lab: several edges in one process, each with its device in its own namespace.
   */
  async moveToNetns(netns: string): Promise<void> {
    await this.ip('move the TAP device into namespace ' + netns, ['link', 'set', 'dev', this.name, 'netns', netns])
    this.netns = netns
    await this.ip('bring the TAP device up', ['link', 'set', 'dev', this.name, 'up'])
  }

  /** Adds an IPv4 or IPv6 address with its prefix length, e.g. "10.9.0.1/24" or "fd00::1/64". */
  async addAddress(cidr: string): Promise<void> {
    const [address = '', prefix = '', ...rest] = cidr.split('/')
    const family = isIP(address)
    const bits = Number(prefix)
    if (family === 0 || rest.length > 0 || !/^\d{1,3}$/.test(prefix) || bits > (family === 4 ? 32 : 128)) {
      throw new TapError('other', `invalid address "${cidr}": expected an IPv4 or IPv6 address with a prefix length, e.g. 10.9.0.1/24`)
    }
    await this.ip(`add address ${cidr}`, ['addr', 'add', cidr, 'dev', this.name])
  }

  /** The device's addresses with their prefix lengths (link-local ones included). */
  async addresses(): Promise<string[]> {
    const stdout = await this.ip('list addresses', ['-j', 'addr', 'show', 'dev', this.name])
    const links = JSON.parse(stdout) as { addr_info?: { local: string; prefixlen: number }[] }[]
    return links.flatMap((link) => (link.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`))
  }

  private readonly deliver = (count: number, error: string | undefined): void => {
    const receiver = this.receiver
    if (receiver !== null && count > 0) {
      const { frames, lengths, slot } = this
      this.stats.batches++
      if (count > this.stats.largestBatch) this.stats.largestBatch = count
      // a receiver may close the device mid-batch; what is left of the batch then goes nowhere
      for (let i = 0, offset = 0; i < count && !this.closed; i++, offset += slot) {
        this.stats.frames++
        receiver(frames.subarray(offset, offset + lengths[i]!))
      }
    }
    if (error !== undefined && !this.closed) {
      const failure = new TapError('other', `reading from TAP device ${this.name} failed (${error}): the device was removed or broke`, {
        code: error,
      })
      if (this.errorHandler === null) throw failure
      this.errorHandler(failure)
    }
  }

  private ip(what: string, args: string[]): Promise<string> {
    const full = this.netns === null ? args : ['-n', this.netns, ...args]
    return new Promise((resolve, reject) => {
      execFile('ip', full, (error, stdout, stderr) => {
        if (error === null) {
          resolve(stdout)
          return
        }
        const prefix = `cannot ${what} on ${this.name}`
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(new TapError('other', `${prefix}: the ip command is missing (install iproute2)`, { cause: error }))
          return
        }
        const detail = stderr.trim() || error.message
        const kind: TapErrorKind = /Operation not permitted/i.test(detail) ? 'permission' : 'other'
        reject(new TapError(kind, `${prefix}: ${detail}`, { cause: error }))
      })
    })
  }
}
