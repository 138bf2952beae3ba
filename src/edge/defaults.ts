// The edge's defaults that the command line shows in --help and uses while parsing options: here,
// apart from edge.ts, so that `overlan edge` can parse its options and start the key derivation
// (Argon2id, on libuv's thread pool) before the data path's modules load (src/cli/edge.ts).
import type { HostPort } from '../net/address.js'

/** Where an edge's management HTTP (/status, /metrics) listens unless told otherwise. */
export const DEFAULT_EDGE_MGMT: HostPort = { host: '127.0.0.1', port: 5644 }
