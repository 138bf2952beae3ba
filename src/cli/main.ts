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
  skipHelpRendering(parser)
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

/**
 * Once yargs has started a command's handler it renders that command's whole help at once
 * (usage.cacheHelpMessage), in case a failure prints it later. Ours never print it (one line, see
 * .fail above; `--help` renders it anew), and the rendering (string-width, wrap-ansi) took ~230 ms
 * of an edge's start-up on the main thread. yargs has no option for it: its usage object is
 * reached through getInternalMethods, and if a later yargs renames either, help is cached again
 * and nothing else changes (test/cli/command-list.test.ts says so if it happens).
 */
export function skipHelpRendering(parser: object): boolean {
  const internals = (parser as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } } }).getInternalMethods?.()
  const usage = internals?.getUsageInstance?.()
  if (usage?.cacheHelpMessage === undefined) return false
  usage.cacheHelpMessage = () => {}
  return true
}
