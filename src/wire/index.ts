// The wire codec: every byte layout overlan puts on the network (see docs/PROTOCOL.md).
export * from './header.js'
export * from './reasons.js'
export * from './fields.js'
export * from './control.js'
export * from './sealed.js'
export * from './codec.js'
export * from './edge-id.js'
export { formatIPv4, formatIPv6, ipFamily, writeIPv4, writeIPv6 } from './ip.js'
