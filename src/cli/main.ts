// The overlan command line: parses argv, hands plain config to the library, maps failures to
// one-line errors and exit codes. Each command is a module of its own, listed once below.
import yargs from 'yargs'
import { hideBin } from 'yargs/helpers'
import { assistCommand } from './assist.js'
import { auditCommand } from './audit.js'
import { caCommand } from './ca.js'
import { edgeCommand } from './edge.js'
import { EXIT_USAGE } from './errors.js'
import { keygenCommand } from './keygen.js'
import { netcheckCommand } from './netcheck.js'
import { receiptCommand } from './receipt.js'
import { statusCommand } from './status.js'
import { supernodeCommand } from './supernode.js'


export async function main(argv: string[]): Promise<void> {
  await yargs(hideBin(argv))
    .scriptName('overlan')
    .usage('$0 <command> [options]\n\nAn n2n-style peer-to-peer overlay network for remote assistance.')
    .command(keygenCommand)
    .command(supernodeCommand)
    .command(edgeCommand)
    .command(statusCommand)
    .command(netcheckCommand)
    .command(assistCommand)
    .command(auditCommand)
    .command(caCommand)
    .command(receiptCommand)
    .demandCommand(1, 'name a command')
    .strict()
    .recommendCommands()
    .fail((message, err) => {
      if (err) throw err
      process.stderr.write(`overlan: ${message} (see overlan --help)\n`)
      process.exit(EXIT_USAGE)
    })
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(100, process.stdout.columns || 100))
    .parseAsync()
}
