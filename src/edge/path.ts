// How frames reach one peer, as an explicit state machine. Every change of path goes through
// nextPath(), so the whole behaviour is readable in this table.
//
//   relay ──peer-info──▶ punching ──probe-ack──▶ direct ──direct-quiet──▶ suspect
//     ▲                   ▲  │                      ▲                         │
//     ├──punch-exhausted──┼──┘                      └────────probe-ack────────┤
//     │                   └─────────────────peer-info─────────────────────────┤
//     └──────────────────────────direct-silent────────────────────────────────┘
//
// Frames go through the supernode in `relay`, `punching` and `suspect` (no loss while probing),
// straight to the peer in `direct`. `suspect` is a direct path that stopped answering (a NAT
// forgot its mapping, say): frames take the relay at once, fast probes check the old endpoint,
// and the edge asks the supernode for the peer again, whose answer starts punching toward fresh
// endpoints. A late probe-ack in `relay` still makes the path direct.

export type PathState = 'relay' | 'punching' | 'direct' | 'suspect'
export type PathEvent = 'peer-info' | 'probe-ack' | 'punch-exhausted' | 'direct-quiet' | 'direct-silent'

const TRANSITIONS: Record<PathState, Partial<Record<PathEvent, PathState>>> = {
  relay: { 'peer-info': 'punching', 'probe-ack': 'direct' },
  punching: { 'peer-info': 'punching', 'probe-ack': 'direct', 'punch-exhausted': 'relay' },
  direct: { 'probe-ack': 'direct', 'direct-quiet': 'suspect', 'direct-silent': 'relay' },
  suspect: { 'peer-info': 'punching', 'probe-ack': 'direct', 'direct-silent': 'relay' },
}

/** The state after `event`, or the same state when the event means nothing there. */
export function nextPath(state: PathState, event: PathEvent): PathState {
  return TRANSITIONS[state][event] ?? state
}

/** A path with a direct endpoint to keep alive (and to probe): `direct` or `suspect`. */
export function hasDirectEndpoint(state: PathState): boolean {
  return state === 'direct' || state === 'suspect'
}
