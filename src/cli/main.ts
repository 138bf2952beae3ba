// The overlan command line: parses argv, hands plain config to the library, maps failures to
// one-line errors and exit codes. Each command is a module of its own, listed once in commands.ts.
import yargs from 'yargs'
import { hideBin } from 'yargs/helpers'
import { COMMAND_DESCRIPTIONS, COMMANDS, commandWordOf } from './commands.js'
import { EXIT_USAGE } from './errors.js'


export async function main(argv: string[]): Promise<void> {
  const args = hideBin(argv)
  const word = commandWordOf(args)
  // only the command being run is loaded; any other word (a typo, "--help" alone) loads them all,
  // so that yargs's own messages and suggestions stay as they were
  const chosen = COMMANDS.find((entry) => entry.name === word)
  const parser = yargs(args)
    .scriptName('overlan')
    .usage('$0 <command> [options]\n\nAn n2n-style peer-to-peer overlay network for remote assistance.')
  for (const entry of COMMANDS) {
    if (chosen === undefined || entry === chosen) parser.command(await entry.load())
    else parser.command(entry.usage, COMMAND_DESCRIPTIONS[entry.name])
  }
  await parser
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
