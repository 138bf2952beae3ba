// The supernode's port, apart from supernode.ts: every command that parses a supernode address
// (the edge, netcheck, assist) needs it, and importing it from supernode.ts loaded the whole
// supernode (and `ws`) into each edge's start-up.
/** The supernode's UDP port unless told otherwise (-p, and in HOST without :PORT). */
export const DEFAULT_SUPERNODE_PORT = 7654
