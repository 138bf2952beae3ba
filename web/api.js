// The service's HTTP API as the page calls it: JSON in and out, an ApiError carrying the service's
// own message, and one path for a refused session (401): the handler main.js names, back to login.

export class ApiError extends Error {
  constructor(status, message, field, retryAfter) {
    super(message)
    this.status = status
    this.field = field
    this.retryAfter = retryAfter
    /** the call was refused for want of a session, and the page has gone back to its login form */
    this.sessionEnded = false
  }
}

let sessionEnded = () => {}

/** Names the one function every refused session goes to. */
export function onSessionEnded(handler) {
  sessionEnded = handler
}

/** A call that needs no session (log in, log out): a 401 is the caller's to explain. */
export async function request(method, path, body) {
  const init = { method, headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' }
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json'
    init.body = JSON.stringify(body)
  }
  let res
  try {
    res = await fetch(path, init)
  } catch {
    throw new ApiError(0, 'Cannot reach the assistance service. Is it running?')
  }
  let json = null
  if ((res.headers.get('content-type') ?? '').includes('application/json')) {
    try {
      json = await res.json()
    } catch {
      json = null
    }
  }
  if (!res.ok) {
    const message = json !== null && typeof json.error === 'string' ? json.error : `the service answered ${res.status} ${res.statusText}`
    throw new ApiError(res.status, message, json?.field, res.headers.get('retry-after'))
  }
  return json
}

/**
 * A call within the console's session. A 401 goes to the session-ended handler, then rejects with
 * `sessionEnded` set: callers leave such an error alone, the login form has taken over.
 */
export async function call(method, path, body) {
  try {
    return await request(method, path, body)
  } catch (err) {
    if (err.status === 401) {
      err.sessionEnded = true
      sessionEnded()
    }
    throw err
  }
}
