// `overlan ca`: a community authority in a directory, as Nebula's nebula-cert: `init` makes the
// authority key, `issue` signs a member certificate for a public key, `revoke` signs a revocation.
//
//   DIR/authority.key    the authority's secret key (0600; never leaves this directory)
//   DIR/authority.pub    its public key
//   DIR/issued/N.crt     every certificate issued, by serial: the highest name is the last serial
//   DIR/revoked/F.rev    every revocation, by the revoked certificate's fingerprint
//   DIR/revocations      the revocations whose certificates have not expired, one per line:
//                        the file to give edges with `overlan edge --revocations` (replaced at each revoke)
import { existsSync, mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Argv, CommandModule } from 'yargs'
import { armor } from '../crypto/armor.js'
import { authorityFromIdentity, certificateFingerprint, generateAuthority, issueCertificate } from '../crypto/certificate.js'
import { formatFingerprint, macOfKey, parseFingerprint, seedOf } from '../crypto/identity.js'
import type { Authority } from '../crypto/keys.js'
import { signRevocation } from '../crypto/revocation.js'
import { destroySecret } from '../crypto/secure-memory.js'
import { MAX_CERTIFICATE_NAME_BYTES, ROLES, decodeCertificate, parseOverlay6, type Certificate, type Role } from '../wire/certificate.js'
import { decodeRevocation } from '../wire/revocation.js'
import { SIGNATURE_BYTES, formatMac, isUnicastMac, isValidName, parseMac } from '../wire/fields.js'
import { CliError } from './errors.js'
import { PUBLIC_FILE_MODE, SECRET_FILE_MODE, createFile, readArmoredFile, readIdentityFile, readPublicKeyFile, replaceFile, writeNewFile } from './key-files.js'
import { overlayAddress } from './options.js'
import { COMMAND_DESCRIPTIONS } from './commands.js'

export const AUTHORITY_KEY_FILE = 'authority.key'
export const AUTHORITY_PUB_FILE = 'authority.pub'
export const ISSUED_DIR = 'issued'
export const REVOKED_DIR = 'revoked'
export const REVOCATIONS_FILE = 'revocations'
/** Ten years: longer is a typo, and a certificate that outlives its authority's care is a risk. */
const MAX_LIFETIME_SECONDS = 3650 * 86_400
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 }

export interface InitArgs {
  out: string
}

const initCommand: CommandModule<object, InitArgs> = {
  command: 'init',
  describe: 'Make a new community authority: its key (0600) and public key in --out DIR; prints the community ID',
  builder: (y) =>
    y
      .option('out', { type: 'string', demandOption: true, describe: 'directory for the authority (made if missing; an existing authority there is never overwritten)' })
      .example('$0 ca init --out /etc/overlan/ca', 'a new authority; give its community ID and authority.pub to the supernodes and members'),
  handler: (args) => print(caInit(args)),
}

/** What a ca command prints: the result on stdout (a certificate, a revocation, the community ID), a note for people on stderr. */
export interface CaOutput {
  stdout: string
  stderr: string
}

function print(output: CaOutput): void {
  process.stdout.write(output.stdout)
  process.stderr.write(output.stderr)
}

export function caInit(args: InitArgs): CaOutput {
  makeDirectory('--out', args.out)
  const authority = generateAuthority()
  const seed = seedOf(authority)
  const text = armor('authority', seed)
  try {
    writeNewFile('--out', join(args.out, AUTHORITY_KEY_FILE), text, SECRET_FILE_MODE)
  } finally {
    destroySecret(seed)
    destroySecret(text)
    destroySecret(authority.secretKey)
  }
  writeNewFile('--out', join(args.out, AUTHORITY_PUB_FILE), armor('publicKey', authority.publicKey), PUBLIC_FILE_MODE)
  makeDirectory('--out', join(args.out, ISSUED_DIR))
  makeDirectory('--out', join(args.out, REVOKED_DIR))
  return {
    stdout: `community ID ${authority.communityId.toString('hex')}\n`,
    stderr: `authority key in ${join(args.out, AUTHORITY_KEY_FILE)} (keep it secret), public key in ${join(args.out, AUTHORITY_PUB_FILE)}\n`,
  }
}

export interface IssueArgs {
  ca: string
  name: string
  ip: string
  ip6?: string
  mac?: string
  role: string
  expires: string
  pub: string
  out?: string
}

const issueCommand: CommandModule<object, IssueArgs> = {
  command: 'issue',
  describe: "Sign a member certificate for a public key: the member's MAC, addresses, name, role and end time",
  builder: (y) =>
    caOption(y)
      .option('name', { type: 'string', demandOption: true, describe: `the member's name as others see it (1 to ${MAX_CERTIFICATE_NAME_BYTES} bytes of UTF-8)` })
      .option('ip', { type: 'string', demandOption: true, describe: 'its overlay IPv4 address IP/PREFIX, e.g. 10.9.0.5/24' })
      .option('ip6', { type: 'string', describe: 'its overlay IPv6 address IP/PREFIX, e.g. fd00:9::5/64' })
      .option('mac', { type: 'string', describe: 'its MAC (default: derived from the public key, locally administered)' })
      .option('role', { type: 'string', default: 'member', describe: `one of ${ROLES.join(', ')}` })
      .option('expires', { type: 'string', demandOption: true, describe: 'how long it is good for from now: a number and s, m, h or d (8h, 30d)' })
      .option('pub', { type: 'string', demandOption: true, describe: "the member's public key file (from overlan keygen --identity FILE: FILE.pub)" })
      .option('out', { type: 'string', describe: 'write the certificate here (never overwritten); default: standard output' })
      .example('$0 ca issue --ca ca --name anna --ip 10.9.0.5/24 --role technician --expires 8h --pub anna.key.pub --out anna.crt', "a technician's certificate for 8 hours"),
  handler: (args) => print(caIssue(args, nowSeconds())),
}

export function caIssue(args: IssueArgs, now: number): CaOutput {
  const name = args.name
  if (name === '' || !isValidName(name, MAX_CERTIFICATE_NAME_BYTES)) throw new CliError(`--name: 1 to ${MAX_CERTIFICATE_NAME_BYTES} bytes of UTF-8 without control characters, got ${JSON.stringify(name)}`)
  const ipv4 = overlayAddress('--ip', args.ip)
  const ipv6 = args.ip6 === undefined ? null : parseOverlay6(args.ip6)
  if (ipv6 === null && args.ip6 !== undefined) throw new CliError(`--ip6: "${args.ip6}" is not an address like fd00:9::5/64`)
  if (!(ROLES as readonly string[]).includes(args.role)) throw new CliError(`--role must be one of ${ROLES.join(', ')}, got ${args.role}`)
  const lifetime = durationSeconds('--expires', args.expires)
  const memberKey = readPublicKeyFile('--pub', args.pub)
  let mac = macOfKey(memberKey)
  if (args.mac !== undefined) {
    const given = parseMac(args.mac)
    if (given === null || !isUnicastMac(given)) throw new CliError(`--mac: "${args.mac}" is not a unicast MAC like 02:12:34:56:78:9a`)
    mac = given
  }
  // refused before anything is signed: a certificate issued but never handed out is one to revoke
  if (args.out !== undefined && existsSync(args.out)) throw new CliError(`--out: ${args.out} exists; refusing to overwrite it`)
  const authority = readAuthority(args.ca)
  const issuedDir = join(args.ca, ISSUED_DIR)
  // the file name takes the serial: creating it exclusively is what makes the serial unique, even
  // with two `ca issue` at once (the loser takes the next number)
  let serial = lastSerial(issuedDir) + 1
  let bytes: Buffer
  let text: Buffer
  try {
    for (;;) {
      const fields = { role: args.role as Role, serial, notBefore: now, notAfter: now + lifetime, memberKey, mac, ipv4, ipv6, name }
      bytes = issueCertificate(authority, fields)
      text = armor('certificate', bytes)
      if (createFile('--ca', join(issuedDir, `${serial}.crt`), text, PUBLIC_FILE_MODE)) break
      serial++
    }
  } finally {
    destroySecret(authority.secretKey)
  }
  const fingerprint = formatFingerprint(certificateFingerprint({ body: bytes.subarray(0, bytes.length - SIGNATURE_BYTES) }))
  const summary = `certificate ${fingerprint} serial ${serial} for ${JSON.stringify(name)} (${args.role}): ${args.ip}${ipv6 ? ` ${args.ip6}` : ''}, MAC ${formatMac(mac)}, until ${new Date((now + lifetime) * 1000).toISOString()}\n`
  if (args.out === undefined) return { stdout: text.toString(), stderr: summary }
  writeNewFile('--out', args.out, text, PUBLIC_FILE_MODE)
  return { stdout: summary, stderr: '' }
}

export interface RevokeArgs {
  ca: string
  cert?: string
  fingerprint?: string
}

const revokeCommand: CommandModule<object, RevokeArgs> = {
  command: 'revoke',
  describe: 'Sign a revocation of one certificate (by its file or its fingerprint); prints it and keeps it in DIR/revoked',
  builder: (y) =>
    caOption(y)
      .option('cert', { type: 'string', describe: 'the certificate file to revoke' })
      .option('fingerprint', { type: 'string', describe: 'the fingerprint of a certificate this authority issued (ca issue prints it)' })
      .example('$0 ca revoke --ca ca --cert anna.crt', "revoke anna's certificate"),
  handler: (args) => print(caRevoke(args, nowSeconds())),
}

export function caRevoke(args: RevokeArgs, now: number): CaOutput {
  if ((args.cert === undefined) === (args.fingerprint === undefined)) throw new CliError('give the certificate to revoke once: --cert FILE or --fingerprint F')
  const certificate = args.cert !== undefined ? certificateFromFile('--cert', args.cert) : issuedWithFingerprint(args.ca, args.fingerprint!)
  const authority = readAuthority(args.ca)
  const fingerprint = formatFingerprint(certificateFingerprint(certificate))
  let text: Buffer
  try {
    if (!certificate.authorityKey.equals(authority.publicKey)) throw new CliError(`--cert: ${args.cert} was not issued by the authority in ${args.ca}`)
    text = armor('revocation', signRevocation(authority, certificate, now))
  } finally {
    destroySecret(authority.secretKey)
  }
  const path = join(args.ca, REVOKED_DIR, `${fingerprint}.rev`)
  // revoked before: the first revocation stands, and is printed again
  const revocation = createFile('--ca', path, text, PUBLIC_FILE_MODE) ? text : armoredBytes('--ca', path, 'revocation')
  const live = writeRevocationsFile(args.ca, now)
  return {
    stdout: revocation.toString(),
    stderr:
      `revoked certificate ${fingerprint} (serial ${certificate.serial}, ${JSON.stringify(certificate.name)}); kept in ${path}; holders keep it until the certificate's end, ${new Date(certificate.notAfter * 1000).toISOString()}\n` +
      `${join(args.ca, REVOCATIONS_FILE)} holds the ${live} revocation${live === 1 ? '' : 's'} still in force: an edge given --revocations ${join(args.ca, REVOCATIONS_FILE)} sends them to its supernodes within a second\n`,
  }
}

/**
 * Rewrites DIR/revocations from DIR/revoked: every revocation whose certificate has not expired (an
 * expired certificate is refused anyway), one armored line each. Returns how many.
 */
function writeRevocationsFile(dir: string, now: number): number {
  const revokedDir = join(dir, REVOKED_DIR)
  const lines: Buffer[] = []
  for (const name of readdirSync(revokedDir).sort()) {
    if (!name.endsWith('.rev')) continue
    const bytes = readArmoredFile('--ca', join(revokedDir, name), 'revocation', false)
    const decoded = decodeRevocation(bytes)
    if (!decoded.ok) throw new CliError(`--ca: ${join(revokedDir, name)} is not a valid revocation (${decoded.reason})`)
    if (decoded.value.notAfter > now) lines.push(armor('revocation', bytes))
  }
  replaceFile('--ca', join(dir, REVOCATIONS_FILE), Buffer.concat(lines), PUBLIC_FILE_MODE)
  return lines.length
}

export const caCommand: CommandModule = {
  command: 'ca',
  describe: COMMAND_DESCRIPTIONS.ca,
  builder: (y) =>
    y
      .command(initCommand)
      .command(issueCommand)
      .command(revokeCommand)
      .demandCommand(1, 'name a ca command: init, issue or revoke')
      .epilog('Certificates are protocol v2 (docs/PROTOCOL.md §10): a member runs overlan edge --cert FILE --identity KEYFILE; an edge given --revocations DIR/revocations hands revocations to the supernodes.'),
  handler: () => undefined,
}

function caOption<T>(y: Argv<T>): Argv<T & { ca: string }> {
  return y.option('ca', { type: 'string', demandOption: true, describe: 'the authority directory made by overlan ca init' })
}

function readAuthority(dir: string): Authority {
  return authorityFromIdentity(readIdentityFile('--ca', join(dir, AUTHORITY_KEY_FILE), 'authority'))
}

function makeDirectory(option: string, path: string): void {
  try {
    mkdirSync(path, { recursive: true, mode: 0o700 })
  } catch (err) {
    throw new CliError(`${option}: cannot make the directory ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

/** "8h", "30d", "90m", "45s": seconds, from 1 s to ten years. */
export function durationSeconds(option: string, text: string): number {
  const match = /^(\d{1,10})([smhd])$/.exec(text.trim())
  const seconds = match ? Number(match[1]) * UNIT_SECONDS[match[2]!]! : NaN
  if (!(seconds >= 1 && seconds <= MAX_LIFETIME_SECONDS)) throw new CliError(`${option}: "${text}" is not a duration like 8h, 30d, 90m or 45s (at most 3650d)`)
  return seconds
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000)
}

function lastSerial(issuedDir: string): number {
  let names: string[]
  try {
    names = readdirSync(issuedDir)
  } catch (err) {
    throw new CliError(`--ca: cannot read ${issuedDir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (made by overlan ca init)`)
  }
  let last = 0
  for (const name of names) {
    const match = /^(\d+)\.crt$/.exec(name)
    if (match) last = Math.max(last, Number(match[1]))
  }
  return last
}

function armoredBytes(option: string, path: string, kind: 'certificate' | 'revocation'): Buffer {
  return armor(kind, readArmoredFile(option, path, kind, false))
}

function certificateFromFile(option: string, path: string): Certificate {
  const decoded = decodeCertificate(readArmoredFile(option, path, 'certificate', false))
  if (!decoded.ok) throw new CliError(`${option}: ${path} is not a valid certificate (${decoded.reason})`)
  return decoded.value
}

function issuedWithFingerprint(dir: string, text: string): Certificate {
  const wanted = parseFingerprint(text)
  if (wanted === null) throw new CliError(`--fingerprint: "${text}" is not a certificate fingerprint (32 letters and digits 2-7)`)
  const issuedDir = join(dir, ISSUED_DIR)
  for (const name of readdirSync(issuedDir)) {
    if (!name.endsWith('.crt')) continue
    const certificate = certificateFromFile('--ca', join(issuedDir, name))
    if (certificateFingerprint(certificate).equals(wanted)) return certificate
  }
  throw new CliError(`--fingerprint: no certificate with fingerprint ${text} in ${issuedDir}`)
}
