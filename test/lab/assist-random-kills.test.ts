// A blind check beside the named steps: the real `overlan assist` (a real TAP device, alone in a
// namespace) switched on and off as fast as its API answers, and killed with SIGKILL at a random
// moment, again and again; after every restart the state is one of the two consistent ones.
// OVERLAN_SOAK_KILLS sets the number of kills (the soak runs hundreds); OVERLAN_SOAK_SEED replays a run.
import t from 'tap'
import { LoneAssist } from '../fixtures/lab-assist.js'
import { netnsLab } from '../fixtures/netns.js'
import { prng } from '../fixtures/prng.js'
import { skipUnlessRoot } from '../fixtures/require-root.js'

const KILLS = Number(process.env.OVERLAN_SOAK_KILLS ?? 10)
const SEED = Number(process.env.OVERLAN_SOAK_SEED ?? 20261123)
/** An enable or a disable takes tens of milliseconds: kills within this land before, inside and between them. */
const MAX_KILL_DELAY_MS = 400
const SESSION_SECONDS = 600

t.test(`SIGKILL at ${KILLS} random moments of an enable/disable loop (seed ${SEED}): consistent after every restart`, async (t) => {
  if (skipUnlessRoot(t, 'the assistance service killed at random moments, with a real TAP device in a namespace')) return
  const a = await LoneAssist.create(t, netnsLab(t, 'or'))
  const random = prng(SEED)
  const outcomes = { on: 0, off: 0 }
  let calls = 0
  const started = Date.now()
  let service = await a.startAndWait('assist#1')
  for (let kill = 1; kill <= KILLS; kill++) {
    let toggling = true
    const toggler = (async (): Promise<void> => {
      for (let n = 0; toggling; n++) {
        await a.api('POST', '/api/assistance', n % 2 === 0 ? { enabled: true, durationSeconds: SESSION_SECONDS } : { enabled: false })
        calls++
      }
    })()
    const delay = Math.floor(random() * MAX_KILL_DELAY_MS)
    // the delay is the experiment (a kill at a moment nobody chose), not a wait for something
    await new Promise((resolve) => setTimeout(resolve, delay))
    const exit = await service.stop('SIGKILL')
    toggling = false
    await toggler
    t.equal(exit?.signal, 'SIGKILL', `kill ${kill} after ${delay} ms`)
    service = await a.startAndWait(`assist#${kill + 1}`)
    outcomes[await a.checkConsistent(t, `after kill ${kill}`)]++
  }
  t.comment(`${KILLS} kills in ${((Date.now() - started) / 1000).toFixed(1)} s, ${calls} enable/disable calls: ${outcomes.on} restarts found it on, ${outcomes.off} off, none half`)
})
