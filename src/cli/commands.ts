// The overlan commands: each one's first word, the line `overlan --help` shows for it, and how its
// module is loaded. main.ts loads only the module of the command being run: an edge's start-up does
// not pay for the console's web server, the netcheck sentences or the authority's tools (module
// loading was most of an edge's start-up time). The modules take their descriptions from here, so
// the list and the commands' own help say the same.
import type { CommandModule } from 'yargs'

// 192: SECRET_BITS of src/crypto/secret.ts, written out so that this list loads nothing (a test checks it)
export const COMMAND_DESCRIPTIONS = {
  keygen: 'Print a new random community key (192 bits), or make an identity key with --identity',
  supernode: 'Run a supernode: registers edges, introduces them for hole punching, relays what cannot go direct',
  edge: 'Join a virtual LAN: a TAP device whose frames travel encrypted to the other edges',
  status: "Show the local edge's state: peers with their path, RTT and traffic, supernodes, session expiry",
  netcheck: 'Check what this network lets overlan do (UDP, NAT, HTTPS fallback, IPv6, clock) and say it in plain sentences',
  assist: 'Run the remote-assistance service: console and API to switch assistance on and off (24 h at most)',
  audit: "Check the assistance service's audit log: every record chained to the one before, none removed or edited",
  ca: 'Run a community authority: make its key, issue member certificates, revoke them',
  receipt: 'Check a session receipt signed by the device: who was connected, when, why it ended; and the signature',
} as const

export type CommandName = keyof typeof COMMAND_DESCRIPTIONS

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each command has its own argument type
type AnyCommand = CommandModule<object, any>

export interface CommandEntry {
  name: CommandName
  /** what yargs matches: the name, or the name and its subcommand word ("audit verify") */
  usage: string
  load: () => Promise<AnyCommand>
}

/** In the order `overlan --help` lists them. */
export const COMMANDS: readonly CommandEntry[] = [
  { name: 'keygen', usage: 'keygen', load: async () => (await import('./keygen.js')).keygenCommand },
  { name: 'supernode', usage: 'supernode', load: async () => (await import('./supernode.js')).supernodeCommand },
  { name: 'edge', usage: 'edge', load: async () => (await import('./edge.js')).edgeCommand },
  { name: 'status', usage: 'status', load: async () => (await import('./status.js')).statusCommand },
  { name: 'netcheck', usage: 'netcheck', load: async () => (await import('./netcheck.js')).netcheckCommand },
  { name: 'assist', usage: 'assist', load: async () => (await import('./assist.js')).assistCommand },
  { name: 'audit', usage: 'audit verify', load: async () => (await import('./audit.js')).auditCommand },
  { name: 'ca', usage: 'ca', load: async () => (await import('./ca.js')).caCommand },
  { name: 'receipt', usage: 'receipt verify <file>', load: async () => (await import('./receipt.js')).receiptCommand },
]

/**
 * The command argv names: its first word that is not an option. An option's value that looks like
 * a command ("--name edge") may be taken for one: then that module is loaded for nothing and yargs
 * still parses argv as a whole, so the only cost is time.
 */
export function commandWordOf(args: readonly string[]): string | undefined {
  for (const arg of args) {
    if (arg === '--') return undefined
    if (!arg.startsWith('-')) return arg
  }
  return undefined
}
