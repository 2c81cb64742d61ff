// Segment's Node.js SDK (@segment/analytics-node) sending a plan of calls, as a backend using it
// would; installed by `make test-sdks`, so that the tests see what the SDK itself puts on the
// wire rather than what we think it does.
//
// The plan comes as JSON on stdin, the same as tests/sdk/send_python.py's:
//   {"host": "http://127.0.0.1:8000", "write_key": "...", "max_retries": 3,
//    "calls": [{"method": "track", "user_id": "...", "event": "...", "properties": {...},
//               "context": {...}, "timestamp": "ISO 8601", "message_id": "..."}]}
// Each call's fields other than `method` are the SDK method's parameters, in snake case, but for
// `seconds_ago`: the call's timestamp, that long before now, read when the call is made. The
// result goes to stdout as JSON: {"sent": [each message as the SDK built it], "errors": [each
// 'error' the SDK emitted], "requests": how many HTTP requests it made}.

import { Analytics } from '@segment/analytics-node'

const CAMEL = { user_id: 'userId', anonymous_id: 'anonymousId', message_id: 'messageId' }

async function readStdin() {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return Buffer.concat(chunks).toString('utf8')
}

function parameters(call) {
  const found = {}
  for (const [key, value] of Object.entries(call)) {
    if (key === 'method') continue
    if (key === 'seconds_ago') found.timestamp = new Date(Date.now() - value * 1000)
    else found[CAMEL[key] ?? key] = key === 'timestamp' ? new Date(value) : value
  }
  return found
}

const plan = JSON.parse(await readStdin())
const timeout = plan.timeout_ms ?? 30000
const analytics = new Analytics({
  writeKey: plan.write_key,
  host: plan.host,
  flushAt: Math.max(plan.calls.length, 1),
  flushInterval: 50,
  maxRetries: plan.max_retries ?? 3,
  httpRequestTimeout: plan.request_timeout_ms ?? 10000,
})
const sent = []
const errors = []
let requests = 0
analytics.on('http_request', () => {
  requests += 1
})
analytics.on('error', (error) => {
  errors.push({
    code: error.code,
    reason: String(error.reason),
    message_id: error.ctx?.event?.messageId ?? null,
  })
})
for (const call of plan.calls) {
  analytics[call.method](parameters(call), (error, ctx) => {
    if (ctx) sent.push(ctx.event)
  })
}
await analytics.closeAndFlush({ timeout })
process.stdout.write(JSON.stringify({ sent, errors, requests }))
