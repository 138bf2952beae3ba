// The assistance service issues its device a certificate of role `device` and each admitted
// technician one of role `technician`, so a technician's edge, the supernode and the audit see which
// member is the device (the role is the authority's word, not the member's).
import t from 'tap'
import { poll, startTestAssist } from '../fixtures/assist.js'
import { technician } from '../fixtures/enrollment.js'
import { ipv4Frame } from '../fixtures/frames.js'

/** Polls (100 ms apart) this many times at most: ~20 s on a busy machine. */
const TRIES = 200

t.test("the device's certificate states role device; an admitted technician's, technician", async (t) => {
  const a = await startTestAssist(t)
  const on = await a.api('POST', '/api/assistance', { enabled: true, durationSeconds: 600, consent: 'auto' })
  t.equal(on.status, 200, 'assistance on')
  const anna = technician(t, a.configs[0]!, 'anna')
  const answer = await poll(() => Promise.resolve(anna.poll()), (x) => x.state !== 'waiting')
  if (answer.state !== 'admitted') throw new Error(`not admitted: ${answer.state}`)
  const { edge: tech, tap } = await anna.join(answer.certificate)
  t.equal(tech.status().certificate.role, 'technician', "the technician's certificate, as the session issued it")
  const device = a.taps[0]!
  tap.inject(ipv4Frame(device.mac, tap.mac, tech.overlay!.address, a.configs[0]!.overlay.address))
  const peers = await poll(() => Promise.resolve(tech.status().peers), (p) => p.some((peer) => peer.session.state === 'ready'), TRIES)
  const seen = peers.find((p) => p.session.state === 'ready')!
  t.equal(seen.role, 'device', 'the technician sees the device by its certificate: role device')
  t.equal(seen.ip, a.configs[0]!.overlay.address, 'with the address the service gave it')
})
