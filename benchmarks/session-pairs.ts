// Edges' session tables wired together in memory for the `sessions` section: each with an Ed25519
// identity and a certificate signed by one authority (body ‖ Ed25519 signature, as real member
// certificates are checked: one signature verification per certificate seen), datagrams delivered
// synchronously. Only the session layer is measured: no sockets.
import sodium from 'sodium-native'
import { SessionTable, type SessionTableConfig } from '../src/crypto/session-table.js'
import type { Clock } from '../src/time/clock.js'

const COMMUNITY_ID = Buffer.alloc(16, 0x5e)
/** A realistic certificate size: issue 12 allows up to 300 bytes; ~200 with a name and addresses. */
const CERT_BODY_BYTES = 32 + 104

export interface Edge {
  publicKey: Buffer
  certificate: Buffer
  table: SessionTable
}

export class Authority {
  private readonly publicKey = Buffer.alloc(32)
  private readonly secretKey = Buffer.alloc(64)
  constructor() {
    sodium.crypto_sign_keypair(this.publicKey, this.secretKey)
  }

  issue(memberKey: Buffer): Buffer {
    const body = Buffer.concat([memberKey, Buffer.alloc(CERT_BODY_BYTES - 32, 0x2e)])
    const signature = Buffer.alloc(64)
    sodium.crypto_sign_detached(signature, body, this.secretKey)
    return Buffer.concat([body, signature])
  }

  verify(certificate: Buffer): Buffer | null {
    if (certificate.length !== CERT_BODY_BYTES + 64) return null
    const body = certificate.subarray(0, CERT_BODY_BYTES)
    if (!sodium.crypto_sign_verify_detached(certificate.subarray(CERT_BODY_BYTES), body, this.publicKey)) return null
    return Buffer.from(body.subarray(0, 32))
  }
}

export class Wiring {
  private readonly byKey = new Map<string, Edge>()
  private queue: { to: Edge; from: Edge; packet: Buffer }[] = []
  private readonly out = Buffer.alloc(4096)
  readonly authority = new Authority()

  constructor(
    private readonly clock: Clock,
    private readonly limits?: SessionTableConfig['limits'],
  ) {}

  addEdge(): Edge {
    const publicKey = Buffer.alloc(32)
    const secretKey = Buffer.alloc(64)
    sodium.crypto_sign_keypair(publicKey, secretKey)
    const certificate = this.authority.issue(publicKey)
    const edge: Edge = { publicKey, certificate, table: null as unknown as SessionTable }
    edge.table = new SessionTable({
      identity: { publicKey, secretKey },
      certificate,
      communityId: COMMUNITY_ID,
      clock: this.clock,
      verifyCertificate: (cert) => this.authority.verify(cert),
      send: (session, packet) => this.queue.push({ from: edge, to: this.byKey.get(session.peerStatic.toString('hex'))!, packet }),
      limits: this.limits,
    })
    secretKey.fill(0)
    this.byKey.set(publicKey.toString('hex'), edge)
    return edge
  }

  /** Runs a handshake from `a` to `b` to the end (response and confirming keepalive). */
  handshake(a: Edge, b: Edge): void {
    const session = a.table.connect(b.certificate)
    if (session === null || !session.initiate()) throw new Error('handshake could not start')
    while (this.queue.length > 0) {
      const d = this.queue.shift()!
      const result = d.to.table.receive(d.packet, this.out)
      if (result.kind === 'dropped') throw new Error(`handshake packet dropped: ${result.reason}`)
      if (result.reply !== null) this.queue.push({ from: d.to, to: d.from, packet: result.reply })
    }
    if (session.state !== 'ready' || b.table.session(a.publicKey)?.state !== 'ready') throw new Error('handshake did not complete')
  }

  /** Forgets `a` and `b`'s session on both sides (keys erased), so that the next handshake starts afresh. */
  forget(a: Edge, b: Edge): void {
    a.table.forget(a.table.session(b.publicKey)!)
    b.table.forget(b.table.session(a.publicKey)!)
  }
}
