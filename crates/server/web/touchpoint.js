/*! Touchpoint capture snippet, served at /touchpoint.js: page views (with UTM and
 * referrer), identify, track, consent, and the surveys trigger rules decide to show in
 * the page (then: in_page). No dependencies. Ids are kept where Segment's analytics.js
 * keeps them (localStorage ajs_anonymous_id, ajs_user_id), so a site moving either way
 * keeps its visitors.
 *
 *   <script src="https://touchpoint.example/touchpoint.js" data-key="tpw_…" async></script>
 *   touchpoint.identify('u-42', {email: 'a@example.cz'}); touchpoint.track('Cart Viewed');
 *   touchpoint.consent({marketing: false, surveys: true}); touchpoint.page();
 *
 * Calls made before it loads are kept if the page starts with
 *   window.touchpoint = window.touchpoint || [];  touchpoint.push(['identify', 'u-42']);
 * A page view is sent on load and whenever a single-page app moves to another address
 * (history.pushState, back and forward); data-page="false" turns both off. */
(function (w, d) {
  'use strict';
  var me = d.currentScript;
  var early = w.touchpoint;
  if (!me || (early && early.loaded)) return;
  var key = me.getAttribute('data-key');
  if (!key) {
    if (w.console) console.warn('touchpoint.js: add data-key="tpw_…", the project\'s write key');
    return;
  }
  var base = (me.getAttribute('data-host') || new URL(me.src, location.href).origin).replace(/\/+$/, '');
  var noop = function () {};
  function get(k) {
    try { var v = w.localStorage.getItem(k); return v == null ? null : JSON.parse(v); } catch (e) { return null; }
  }
  function put(k, v) {
    try { if (v == null) w.localStorage.removeItem(k); else w.localStorage.setItem(k, JSON.stringify(v)); } catch (e) { /* private mode */ }
  }
  function uuid() {
    if (w.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16), h = '';
    crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    for (var i = 0; i < 16; i++) h += (b[i] + 256).toString(16).slice(1) + ([3, 5, 7, 9].indexOf(i) >= 0 ? '-' : '');
    return h;
  }
  var anon = get('ajs_anonymous_id');
  if (typeof anon !== 'string' || !anon) { anon = uuid(); put('ajs_anonymous_id', anon); }
  var user = get('ajs_user_id');
  var consent = get('tp_consent');
  // The page before this one: the document's referrer, then (in a single-page app) the
  // address it moved from.
  var referrer = d.referrer;

  function campaign() {
    var q = new URLSearchParams(location.search), c = null;
    ['source', 'medium', 'campaign', 'term', 'content'].forEach(function (k) {
      var v = q.get('utm_' + k);
      if (v) { c = c || {}; c[k === 'campaign' ? 'name' : k] = v; }
    });
    return c;
  }
  function pageFacts() {
    return { path: location.pathname, referrer: referrer, search: location.search, title: d.title, url: location.href };
  }
  function context() {
    var c = { library: { name: 'touchpoint.js', version: '1' }, page: pageFacts(), locale: navigator.language, userAgent: navigator.userAgent };
    try { c.timezone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { /* old browser */ }
    var k = campaign();
    if (k) c.campaign = k;
    if (consent) c.consent = { categoryPreferences: consent };
    return c;
  }
  // One event to the capture API, retried with the same messageId (stored once).
  function send(type, body) {
    body.type = type;
    body.anonymousId = anon;
    if (user) body.userId = user;
    body.messageId = 'tpjs-' + uuid();
    body.timestamp = new Date().toISOString();
    body.context = context();
    if (body.emailHmac) { body.context.email_hmac = String(body.emailHmac); delete body.emailHmac; }
    body.writeKey = key;
    var text = JSON.stringify(body), tries = 0;
    (function attempt() {
      tries++;
      // text/plain: no CORS preflight, as Segment's SDK sends it.
      fetch(base + '/v1/' + type, { method: 'POST', body: text, headers: { 'Content-Type': 'text/plain' }, keepalive: text.length < 60000, credentials: 'omit' })
        .then(function (r) {
          if (r.ok) { soon(); return; }
          if ((r.status === 429 || r.status >= 500) && tries < 4) setTimeout(attempt, 1000 * tries * tries);
          else if (w.console) r.text().then(function (t) { console.warn('touchpoint.js: ' + type + ' refused: ' + t); });
        })
        .catch(function () { if (tries < 4) setTimeout(attempt, 1000 * tries * tries); });
    })();
  }

  // In-page actions: asked when the page opens and after events are stored (a rule
  // decides within a second or two).
  var showing = false, asking = [];
  function soon() {
    asking.forEach(clearTimeout);
    asking = [setTimeout(ask, 1200), setTimeout(ask, 5000)];
  }
  function ask() {
    if (showing || d.hidden) return;
    var q = '?writeKey=' + encodeURIComponent(key) + '&anonymousId=' + encodeURIComponent(anon) +
      '&lang=' + encodeURIComponent(navigator.language || '');
    fetch(base + '/v1/in-page' + q, { credentials: 'omit', cache: 'no-store' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) { if (j && j.actions && j.actions.length) show(j.actions[0]); })
      .catch(noop);
  }
  function show(a) {
    if (a.kind !== 'survey' || showing || !/^https?:/.test(a.url)) return;
    showing = true;
    var l = (navigator.language || 'en').slice(0, 2);
    var title = { cs: 'Krátký dotazník', pl: 'Krótka ankieta' }[l] || 'A short survey';
    var close = { cs: 'Zavřít', pl: 'Zamknij' }[l] || 'Close';
    var box = d.createElement('div');
    box.setAttribute('role', 'dialog');
    box.setAttribute('aria-label', title);
    box.setAttribute('data-touchpoint', a.id);
    box.style.cssText = 'position:fixed;right:1rem;bottom:1rem;z-index:2147483000;width:min(26rem,calc(100vw - 2rem));background:#fff;border:1px solid #8a8a8a;border-radius:.5rem;box-shadow:0 4px 18px rgba(0,0,0,.2);overflow:hidden;padding-top:2.75rem';
    var x = d.createElement('button');
    x.type = 'button';
    x.textContent = '×';
    x.setAttribute('aria-label', close);
    // Above the frame, in a bar of its own: it never covers the survey's title.
    x.style.cssText = 'position:absolute;top:0;right:.25rem;width:2.75rem;height:2.75rem;border:0;background:transparent;font:1.6rem/1 system-ui,sans-serif;color:#333;cursor:pointer';
    x.addEventListener('click', function () { box.remove(); });
    var f = d.createElement('iframe');
    f.src = a.url;
    f.title = title;
    f.style.cssText = 'display:block;width:100%;height:min(28rem,calc(100vh - 6.75rem));border:0';
    box.appendChild(f);
    box.appendChild(x);
    (d.body || d.documentElement).appendChild(box);
  }

  var api = {
    loaded: true,
    /** A page view: `name` and `properties` optional. */
    page: function (name, properties) {
      if (name && typeof name === 'object') { properties = name; name = undefined; }
      var p = pageFacts(), body = { properties: p };
      for (var k in properties || {}) p[k] = properties[k];
      if (name) body.name = String(name);
      send('page', body);
    },
    /** An action the visitor took. */
    track: function (event, properties) { send('track', { event: String(event), properties: properties || {} }); },
    /** Who the visitor is: a user id (kept in this browser) and traits. Options:
     * {emailHmac: '…'}, the HMAC-SHA256 your server computed of the user id, a newline and
     * traits.email with the project's identity secret: the address is then one rule
     * e-mails may go to. */
    identify: function (userId, traits, options) {
      if (userId && typeof userId === 'object') { options = traits; traits = userId; userId = null; }
      if (userId) { user = String(userId); put('ajs_user_id', user); }
      send('identify', { traits: traits || {}, emailHmac: options && options.emailHmac });
    },
    /** The visitor's consent by category ({marketing: false, surveys: true}): kept in this
     * browser, sent with every event (context.consent.categoryPreferences) and now. */
    consent: function (preferences) {
      consent = preferences || null;
      put('tp_consent', consent);
      send('identify', { traits: {} });
    },
    /** Sign-out: a new anonymous id, no user id. */
    reset: function () { anon = uuid(); user = null; put('ajs_anonymous_id', anon); put('ajs_user_id', null); },
    /** The ids this browser sends. */
    ids: function () { return { anonymousId: anon, userId: user }; },
    push: function (call) {
      if (call && call[0] !== 'push' && typeof api[call[0]] === 'function') api[call[0]].apply(null, call.slice(1));
    }
  };
  w.touchpoint = api;
  if (early && early.length) early.forEach(api.push);
  if (me.getAttribute('data-page') !== 'false') {
    api.page();
    // Single-page apps: a new address (not a new #fragment) is a new page view.
    var where = location.pathname + location.search, was = location.href;
    var moved = function () {
      var now = location.pathname + location.search;
      if (now !== where) { where = now; referrer = was; api.page(); }
      was = location.href;
    };
    ['pushState', 'replaceState'].forEach(function (m) {
      var original = history[m];
      history[m] = function () { var r = original.apply(this, arguments); moved(); return r; };
    });
    w.addEventListener('popstate', moved);
  } else ask();
})(window, document);
