/*
 * movieEvents: the browser tracker of the movie pipeline. No dependencies, no build step.
 *
 *   <script src="https://events.example.com/tracker.js"></script>
 *   <script>
 *     movieEvents.init({ endpoint: "https://events.example.com", userId: "u-42" });
 *     movieEvents.watch(603, "start", 0, 8160);
 *   </script>
 *
 * Events are queued and posted in batches to POST /events as `{"events": [...]}`. The body is
 * sent as text/plain so that a post from another origin stays a CORS simple request: no
 * preflight, and sendBeacon may carry it. When the page is hidden or left, whatever is queued
 * goes by navigator.sendBeacon, which the browser delivers after the page is gone.
 *
 * A batch that meets a 503 (or another 5xx, a 408, a 429), a network error, a timeout or an
 * answer that is not the service's is sent again after an exponential backoff, byte for byte:
 * same event ids, same content. The service stores one event per id, so a retried event lands
 * once. After maxAttempts the batch is given up, so that one the service can never take does
 * not hold back every event behind it.
 */
(() => {
  "use strict";

  const DEFAULTS = {
    batchSize: 20, // a batch this full is sent at once...
    flushDelayMs: 1000, // ...a smaller one after this delay
    maxQueue: 1000, // past this many waiting events the oldest are dropped
    timeoutMs: 10000, // a request unanswered this long is abandoned and retried
    retryBaseMs: 500,
    retryCapMs: 30000,
    maxAttempts: 12, // with the defaults, about five minutes of trying
  };
  // Browsers refuse beacons and keepalive fetches past 64 KiB in flight per page: stay below it.
  const MAX_BODY_BYTES = 60 * 1024;
  const MAX_BODY_EVENTS = 500; // the service's default MAX_BATCH_EVENTS
  const BODY_OVERHEAD = '{"events":[]}'.length;
  // The service's limits (app/ingest/events.py): longer text is cut, not refused.
  const MAX_URL_CHARS = 2048;
  const MAX_LOCALE_CHARS = 35;
  const MAX_ID_CHARS = 128;
  const MAX_ELEMENT_CHARS = 256;
  const MAX_COMMENT_CHARS = 5000;
  const SESSION_KEY = "movieEvents.session";
  // Only while this script first runs does the page say where the tracker came from.
  const scriptUrl = document.currentScript ? document.currentScript.src : "";
  const encoder = new TextEncoder();

  let config = null;
  let queue = []; // {id, json, size} of events not yet handed to the sender, oldest first
  let batch = null; // what the sender owns: one request's events, in flight or awaiting a retry
  let inFlight = false;
  let attempt = 0;
  let flushTimer = null;
  let retryTimer = null;
  let dropped = 0;

  // Code points, as the service counts them. A lone surrogate (text cut in the middle of a
  // character) becomes U+FFFD: the service refuses a whole body that holds one.
  function clean(value, maxChars = Infinity) {
    const chars = Array.from(String(value), (c) =>
      c.length === 1 && c >= "\ud800" && c <= "\udfff" ? "\ufffd" : c,
    );
    return chars.slice(0, maxChars).join("");
  }

  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID(); // only in secure contexts
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    const groups = [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20)];
    return [...groups, hex.slice(20)].join("-");
  }

  // "https://host", "https://host/" and "https://host/events" all mean POST https://host/events;
  // without an endpoint, the service that served this script.
  function eventsUrl(endpoint) {
    const url = new URL(endpoint || new URL(".", scriptUrl).href, location.href);
    if (!url.pathname.endsWith("/events")) url.pathname = url.pathname.replace(/\/?$/, "/events");
    return url.href;
  }

  // One session per browser tab unless the page names its own.
  function tabSession() {
    try {
      let id = sessionStorage.getItem(SESSION_KEY);
      if (!id) sessionStorage.setItem(SESSION_KEY, (id = uuid()));
      return id;
    } catch {
      return uuid(); // storage blocked: one session per page load
    }
  }

  // The address without query or fragment, which may hold tokens.
  function withoutQuery(address) {
    return clean(address.split(/[?#]/)[0], MAX_URL_CHARS);
  }

  function context() {
    return {
      page: withoutQuery(location.href),
      referrer: document.referrer ? withoutQuery(document.referrer) : undefined,
      locale: navigator.language ? clean(navigator.language, MAX_LOCALE_CHARS) : undefined,
    };
  }

  function report(entries, status, detail) {
    if (!config.onStatus) return;
    for (const entry of entries) {
      try {
        config.onStatus(entry.id, status, detail);
      } catch (error) {
        console.error("movieEvents: onStatus failed", error);
      }
    }
  }

  function track(eventType, movieId, payload) {
    if (!config) {
      console.error("movieEvents: call init() first; event not sent");
      return null;
    }
    const event = {
      event_id: uuid(),
      event_type: eventType,
      user_id: config.userId,
      session_id: config.sessionId,
      movie_id: movieId,
      occurred_at: new Date().toISOString(), // RFC 3339, UTC
      context: context(),
      payload,
    };
    // Serialized once: a retry sends the very same bytes.
    const json = JSON.stringify(event);
    const entry = { id: event.event_id, json, size: encoder.encode(json).length };
    if (BODY_OVERHEAD + entry.size > MAX_BODY_BYTES) {
      report([entry], "rejected", { field: "", reason: "event larger than a request may be" });
      return event.event_id;
    }
    queue.push(entry);
    report([entry], "queued");
    trim();
    schedule();
    return event.event_id;
  }

  // A page that cannot reach the service for long must not grow without bound.
  function trim() {
    if (queue.length <= config.maxQueue) return;
    const oldest = queue.splice(0, queue.length - config.maxQueue);
    dropped += oldest.length;
    report(oldest, "dropped");
  }

  function schedule() {
    if (queue.length >= config.batchSize) flush();
    else if (queue.length && !flushTimer) flushTimer = setTimeout(flush, config.flushDelayMs);
  }

  function bodyOf(entries) {
    return `{"events":[${entries.map((entry) => entry.json).join(",")}]}`;
  }

  // Consecutive runs of entries, each small enough for one request.
  function split(entries, maxEvents) {
    const runs = [];
    let run = [];
    let size = BODY_OVERHEAD;
    for (const entry of entries) {
      if (run.length && (run.length >= maxEvents || size + entry.size + 1 > MAX_BODY_BYTES)) {
        runs.push(run);
        run = [];
        size = BODY_OVERHEAD;
      }
      run.push(entry);
      size += entry.size + 1;
    }
    if (run.length) runs.push(run);
    return runs;
  }

  function flush() {
    clearTimeout(flushTimer);
    flushTimer = null;
    // One batch at a time: requests in flight share the browser's 64 KiB keepalive quota.
    if (!config || batch || !queue.length) return;
    batch = split(queue, config.batchSize)[0];
    queue = queue.slice(batch.length);
    attempt = 0;
    send();
  }

  async function send() {
    inFlight = true;
    let retryAfterMs;
    try {
      retryAfterMs = await post(batch);
    } catch (error) {
      console.error("movieEvents: sending failed", error);
      retryAfterMs = 0;
    } finally {
      inFlight = false;
    }
    if (retryAfterMs !== null && attempt + 1 >= config.maxAttempts) {
      console.error(`movieEvents: ${batch.length} events given up after ${attempt + 1} attempts`);
      report(batch, "failed", { field: "", reason: `no answer after ${attempt + 1} attempts` });
      retryAfterMs = null;
    }
    if (retryAfterMs === null) {
      batch = null;
      schedule();
      return;
    }
    report(batch, "retrying");
    retryTimer = setTimeout(() => {
      retryTimer = null;
      send();
    }, backoff(attempt++, retryAfterMs));
  }

  // Exponential and capped, with half of each step random, so that pages which met the same
  // outage do not all come back at the same moment.
  function backoff(retries, floorMs) {
    const step = Math.min(config.retryCapMs, config.retryBaseMs * 2 ** retries);
    const delay = step / 2 + (Math.random() * step) / 2;
    return Math.min(config.retryCapMs, Math.max(delay, floorMs));
  }

  // Posts one batch and reports how its events fared; resolves to null when the batch is done,
  // or to the least delay (ms) before it may be tried again.
  async function post(entries) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), config.timeoutMs);
    let response;
    let answer;
    try {
      response = await fetch(config.endpoint, {
        method: "POST",
        headers: { "Content-Type": "text/plain" },
        body: bodyOf(entries),
        keepalive: true, // outlives the page, like a beacon
        credentials: "omit",
        signal: abort.signal,
      });
      answer = await response.json().catch(() => null);
    } catch {
      return 0; // a network error, a timeout, or an answer this page may not read (CORS)
    } finally {
      clearTimeout(timer);
    }
    const status = response.status;
    if (status >= 500 || status === 408 || status === 429) {
      return Number(response.headers.get("Retry-After")) * 1000 || 0;
    }
    // The service's answer lists every event of the batch as accepted or rejected (202, 422).
    const listed = (key) => (answer && Array.isArray(answer[key]) ? answer[key] : []);
    const accepted = new Set(listed("accepted").map((a) => a.index));
    const rejected = new Map(listed("rejected").map((r) => [r.index, r]));
    if (!accepted.size && !rejected.size) {
      if (status < 400) return 0; // not the service's answer: a portal's page, say
      console.error(`movieEvents: ${status} from ${config.endpoint}, events dropped`, answer);
      report(entries, "failed", answer && answer.detail);
      return null;
    }
    entries.forEach((entry, index) => {
      const rejection = rejected.get(index);
      if (accepted.has(index)) return report([entry], "accepted");
      if (!rejection) return report([entry], "failed", { field: "", reason: "not in the answer" });
      console.warn(`movieEvents: event ${entry.id} rejected: ${rejection.field} ${rejection.reason}`);
      report([entry], "rejected", rejection);
    });
    return null;
  }

  // The page may be gone any moment: hand the browser everything not already in flight (a
  // request in flight is keepalive, so it outlives the page as a beacon would).
  function flushOnHide() {
    if (!config) return;
    clearTimeout(flushTimer);
    flushTimer = null;
    let entries = queue;
    queue = [];
    if (batch && !inFlight) {
      clearTimeout(retryTimer);
      retryTimer = null;
      entries = batch.concat(entries);
      batch = null;
    }
    for (const run of split(entries, MAX_BODY_EVENTS)) {
      if (beacon(bodyOf(run))) {
        report(run, "beaconed");
        continue;
      }
      // Refused or missing: a keepalive fetch may still get through, though browsers count it
      // against the same 64 KiB quota. If the page is still there when it fails, the events
      // wait for the next flush.
      post(run).then(
        (retryAfterMs) => retryAfterMs !== null && requeue(run),
        () => requeue(run),
      );
    }
  }

  function beacon(body) {
    if (typeof navigator.sendBeacon !== "function") return false;
    try {
      return navigator.sendBeacon(config.endpoint, new Blob([body], { type: "text/plain" }));
    } catch {
      return false;
    }
  }

  function requeue(entries) {
    queue = entries.concat(queue);
    trim();
    schedule();
  }

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") flushOnHide();
  });
  window.addEventListener("pagehide", flushOnHide);

  window.movieEvents = {
    /**
     * endpoint: the service's base URL or its /events URL (default: where this script came
     * from); userId; sessionId (default: one per tab); onStatus(eventId, status, detail), told
     * "queued", "accepted", "rejected", "retrying", "beaconed", "failed" or "dropped"; and
     * batchSize, flushDelayMs, maxQueue, timeoutMs, retryBaseMs, retryCapMs, maxAttempts.
     */
    init(options) {
      if (!options || !options.userId) throw new Error("movieEvents.init needs a userId");
      for (const name of ["userId", "sessionId"]) {
        if (options[name] != null && String(options[name]).length > MAX_ID_CHARS) {
          throw new Error(`movieEvents.init: ${name} is longer than ${MAX_ID_CHARS} characters`);
        }
      }
      if (!options.endpoint && !scriptUrl) {
        throw new Error("movieEvents.init needs an endpoint when the script is inlined");
      }
      const tuning = Object.fromEntries(
        Object.keys(DEFAULTS)
          .filter((name) => options[name] !== undefined)
          .map((name) => {
            const value = Number(options[name]);
            if (!(value >= 1)) throw new Error(`movieEvents.init: ${name} must be at least 1`);
            return [name, value];
          }),
      );
      config = {
        ...DEFAULTS,
        ...tuning,
        onStatus: options.onStatus,
        endpoint: eventsUrl(options.endpoint),
        userId: clean(options.userId),
        sessionId: clean(options.sessionId || tabSession()),
      };
    },
    /** action: "start", "progress", "pause" or "complete"; position and duration in seconds. */
    watch(movieId, action, position, duration) {
      return track("watch", movieId, {
        action,
        position_seconds: position,
        duration_seconds: duration,
      });
    },
    /** element: a name for what was clicked; target: where it leads, if anywhere. */
    click(element, target) {
      return track("click", undefined, {
        element: clean(element, MAX_ELEMENT_CHARS),
        target: target == null ? undefined : clean(target, MAX_URL_CHARS),
      });
    },
    /** rating: 0 to 10, optional. */
    comment(movieId, text, rating) {
      return track("comment", movieId, { text: clean(text, MAX_COMMENT_CHARS), rating });
    },
    /** Sends what is queued now instead of after the delay. */
    flush,
    /** How many events the full queue has dropped so far. */
    dropped: () => dropped,
  };
})();
