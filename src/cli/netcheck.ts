// `overlan netcheck`: what this network lets overlan do, in plain sentences a user can forward
// to support (or JSON with --json). The checks themselves are src/netcheck/.
import type { CommandModule } from 'yargs'
import { parseSupernodeAddress } from '../net/address.js'
import { NETCHECK_TIMEOUT_MS, runNetcheck, type SupernodeTarget } from '../netcheck/netcheck.js'
import { CLOCK_SKEW_TOLERANCE_MS } from '../netcheck/sentences.js'
import { tlsProber } from '../netcheck/tls-probe.js'
import { DEFAULT_SUPERNODE_PORT } from '../supernode/defaults.js'
import { CliError, EXIT_CANNOT_CONNECT } from './errors.js'
import { caFile, fallbackOption } from './options.js'
import { COMMAND_DESCRIPTIONS } from './commands.js'

interface NetcheckArgs {
  supernode: string[]
  fallback?: string[]
  'ca-file'?: string
  json: boolean
}

export const netcheckCommand: CommandModule<object, NetcheckArgs> = {
  command: 'netcheck',
  describe: COMMAND_DESCRIPTIONS.netcheck,
  builder: (y) =>
    y
      .option('supernode', { alias: 'l', type: 'string', array: true, demandOption: true, describe: `supernode HOST:PORT[,PORT...] (repeat for several; default port ${DEFAULT_SUPERNODE_PORT}); two of them, or two ports, tell the kind of NAT` })
      .option('fallback', { type: 'string', array: true, describe: "a supernode's WebSocket URL, wss://HOST[:PORT]/overlan (repeat for several; ws:// is tested too)" })
      .option('ca-file', { type: 'string', describe: 'PEM file of the CA that signed the fallback\'s certificate (default: the system\'s CAs)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the findings as JSON (for scripts), sentences included' })
      .example('$0 netcheck -l sn.example:7654,443 --fallback wss://sn.example/overlan', 'UDP on two ports, the NAT, HTTPS on 443')
      .epilog(
        `HTTPS_PROXY (or https_proxy) is used for the fallback, as the edge does. A clock more than ${CLOCK_SKEW_TOLERANCE_MS / 1000} s off the supernode's is reported. ` +
          `Exit codes: 0 overlan can connect from here (over UDP or the fallback); ${EXIT_CANNOT_CONNECT} it cannot; 1 bad options.`,
      ),
  handler: async (args) => {
    const supernodes = args.supernode.map(supernodeOption)
    const fallbacks = (args.fallback ?? []).map(fallbackOption)
    const ca = caFile(args['ca-file'])
    const report = await runNetcheck({ supernodes, fallbacks, timeoutMs: NETCHECK_TIMEOUT_MS }, { probeTls: tlsProber({ ca, env: process.env }) })
    const text = args.json ? `${JSON.stringify(report, null, 2)}\n` : report.sentences.map((s) => `${s}\n`).join('')
    await new Promise<void>((resolve) => process.stdout.write(text, () => resolve()))
    // netcheck is done: end now rather than wait for a fallback's TCP connect that timed out while
    // its SYNs were unanswered (the kernel retries those for minutes)
    process.exit(report.canConnect ? 0 : EXIT_CANNOT_CONNECT)
  },
}

function supernodeOption(text: string): SupernodeTarget {
  try {
    const { host, ports } = parseSupernodeAddress(text, DEFAULT_SUPERNODE_PORT)
    return { host, ports }
  } catch (err) {
    throw new CliError(`-l: ${(err as Error).message}`)
  }
}
