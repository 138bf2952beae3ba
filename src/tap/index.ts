// The TAP device: the interface the edge uses, the real Linux device and the in-memory double.
export type { FrameReceiver, TapDevice } from './device.js'
export { MemoryTap } from './memory-tap.js'
export {
  DEFAULT_TAP_MTU,
  DEFAULT_TAP_NAME,
  LinuxTap,
  TapError,
  openLinuxTap,
  randomMac,
  type LinuxTapOptions,
  type LinuxTapStats,
  type TapErrorKind,
} from './linux-tap.js'
