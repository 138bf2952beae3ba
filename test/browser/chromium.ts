// Headless Chromium for the console's browser tests: Debian's /usr/bin/chromium driven by
// playwright-core, closed at the test's end, and a watch on what the page writes to its console.
import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core'
import type { Test } from 'tap'

export const CHROMIUM = '/usr/bin/chromium'
export const ARTIFACTS_DIR = fileURLToPath(new URL('../../test-artifacts/', import.meta.url))
/** One bound for every wait on the page: the service answers locally in milliseconds. */
export const WAIT_MS = 5_000

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

export async function launchChromium(t: Test): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS })
  t.teardown(() => browser.close())
  return browser
}

export interface ConsoleProblem {
  kind: 'console' | 'pageerror'
  text: string
  url: string
}

/** Every console error and uncaught exception of the page, in order. */
export function watchConsole(page: Page): ConsoleProblem[] {
  const problems: ConsoleProblem[] = []
  page.on('console', (message: ConsoleMessage) => {
    if (message.type() === 'error' || message.type() === 'warning') problems.push({ kind: 'console', text: message.text(), url: message.location().url })
  })
  page.on('pageerror', (err) => problems.push({ kind: 'pageerror', text: err.message, url: '' }))
  return problems
}

/** Chromium logs a request the server refused as "Failed to load resource: … status of N": expected ones, by URL path and status. */
export function isRefusedRequest(problem: ConsoleProblem, path: string, status: number): boolean {
  return problem.kind === 'console' && new URL(problem.url || 'http://x/').pathname === path && problem.text.includes(`status of ${status}`)
}

export async function artifactPath(name: string): Promise<string> {
  await mkdir(ARTIFACTS_DIR, { recursive: true })
  return ARTIFACTS_DIR + name
}

/**
 * The little of the browser that the tests read inside functions run in the page: the project's
 * TypeScript has no DOM library. Waits take such functions, never expression strings (playwright
 * runs those through eval, which the console's CSP forbids); one-shot reads may be expressions
 * (page.evaluate hands them to DevTools, outside the CSP).
 */
export interface InPage {
  document: {
    getElementById(id: string): { dataset: Record<string, string | undefined> } | null
    documentElement: { dataset: Record<string, string | undefined> }
  }
  attackResults?: unknown
}

/** Waits until <main data-state> is `state`. */
export async function waitForState(page: Page, state: string, timeout = WAIT_MS): Promise<void> {
  await page.locator(`main[data-state="${state}"]`).waitFor({ timeout })
}
