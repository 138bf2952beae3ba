// How frames reach one peer, as an explicit state machine. Every change of path goes through
// nextPath(), so the whole behaviour is readable in this table.
//
//   relay ──peer-info──▶ punching ──probe-ack──▶ direct
//     ▲                     │                      │
//     └──punch-exhausted────┘                      │
//     └──────────────direct-silent─────────────────┘
//
// Frames go through the supernode in `relay` and `punching` (no loss while probing), straight to
// the peer in `direct`. A late probe-ack in `relay` still makes the path direct.

export type PathState = 'relay' | 'punching' | 'direct'
export type PathEvent = 'peer-info' | 'probe-ack' | 'punch-exhausted' | 'direct-silent'

const TRANSITIONS: Record<PathState, Partial<Record<PathEvent, PathState>>> = {
  relay: { 'peer-info': 'punching', 'probe-ack': 'direct' },
  punching: { 'peer-info': 'punching', 'probe-ack': 'direct', 'punch-exhausted': 'relay' },
  direct: { 'probe-ack': 'direct', 'direct-silent': 'relay' },
}

/** The state after `event`, or the same state when the event means nothing there. */
export function nextPath(state: PathState, event: PathEvent): PathState {
  return TRANSITIONS[state][event] ?? state
}
