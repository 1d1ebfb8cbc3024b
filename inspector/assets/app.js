// Hookwise inspector page. Everything shown comes from webhook deliveries,
// which anyone can send: it is only ever put on the page as text
// (textContent, attribute values), never as HTML.
(function () {
  'use strict';

  var KEY = 'hookwise-inspector-token';
  var token = '';
  try { token = sessionStorage.getItem(KEY) || ''; } catch (e) { token = ''; }

  var version = 0;
  var pollMs = 1000;
  var capacity = 500;
  var pollTimer = null;
  var dlTimer = null;
  var rows = new Map(); // delivery id -> summary
  var selected = 0;
  var stopped = true;

  var STAGES = {
    enqueued: 'accepted', duplicate: 'duplicate', rejected: 'rejected', handled: 'handled',
    retried: 'retried', dead_lettered: 'dead-lettered', invalid: 'invalid', handshake: 'handshake'
  };

  function $(id) { return document.getElementById(id); }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    if (cls) { e.className = cls; }
    return e;
  }

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

  function stageBadge(stage) {
    var known = Object.prototype.hasOwnProperty.call(STAGES, stage);
    return el('span', known ? STAGES[stage] : stage, 'stage' + (known ? ' stage-' + stage : ''));
  }

  function time(s) {
    var d = new Date(s);
    return isNaN(d.getTime()) ? '' : d.toLocaleTimeString();
  }

  function Unauthorized() { this.message = 'unauthorized'; }

  function api(path, opts) {
    opts = opts || {};
    var headers = opts.headers || {};
    headers['X-Hookwise-Token'] = token;
    return fetch(path, {
      method: opts.method || 'GET', headers: headers, body: opts.body,
      cache: 'no-store', credentials: 'omit', redirect: 'error'
    }).then(function (r) {
      if (r.status === 401) { throw new Unauthorized(); }
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) { throw new Error(body.error || ('HTTP ' + r.status)); }
        return body;
      });
    });
  }

  function showLogin(message) {
    stop();
    rows.clear();
    selected = 0;
    clear($('deliveries').tBodies[0]);
    clear($('deadletters'));
    $('detail').hidden = true;
    $('app').hidden = true;
    $('forget').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = message || '';
    $('status').textContent = 'token required';
    $('token').focus();
  }

  function start() {
    $('login').hidden = true;
    $('app').hidden = false;
    $('forget').hidden = false;
    stopped = false;
    version = 0;
    rows.clear();
    poll();
    loadDeadLetters();
  }

  function stop() {
    stopped = true;
    clearTimeout(pollTimer);
    clearTimeout(dlTimer);
  }

  function failed(err) {
    if (err instanceof Unauthorized) {
      showLogin(token ? 'The token was not accepted.' : '');
      return true;
    }
    return false;
  }

  // ---- deliveries ----

  function poll() {
    clearTimeout(pollTimer);
    api('api/deliveries?after=' + version).then(function (res) {
      pollMs = Math.max(250, res.poll_ms || 1000);
      capacity = res.capacity || capacity;
      var changed = false;
      (res.deliveries || []).forEach(function (d) { rows.set(d.id, d); changed = true; });
      rows.forEach(function (_, id) { if (id < res.oldest) { rows.delete(id); changed = true; } });
      if (res.version < version) { rows.clear(); changed = true; } // the server restarted
      version = res.version;
      if (changed || version === 0) { renderDeliveries(); }
      if (changed && selected && rows.has(selected)) { showDetail(selected, true); }
      $('status').textContent = 'live · updated ' + new Date().toLocaleTimeString();
      if (!stopped) { pollTimer = setTimeout(poll, pollMs); }
    }).catch(function (err) {
      if (failed(err)) { return; }
      $('status').textContent = 'disconnected: ' + err.message + ' (retrying)';
      if (!stopped) { pollTimer = setTimeout(poll, Math.max(pollMs, 3000)); }
    });
  }

  function renderDeliveries() {
    var tbody = $('deliveries').tBodies[0];
    clear(tbody);
    var ids = Array.from(rows.keys()).sort(function (a, b) { return b - a; }).slice(0, capacity);
    ids.forEach(function (id) {
      var d = rows.get(id);
      var tr = el('tr', null, 'delivery' + (id === selected ? ' selected' : ''));
      tr.dataset.id = String(id);
      tr.dataset.stage = d.stage;
      tr.dataset.eventId = d.event_id || '';
      tr.appendChild(el('td', time(d.first)));
      tr.appendChild(el('td', d.receiver));
      var st = el('td');
      st.appendChild(stageBadge(d.stage));
      tr.appendChild(st);
      tr.appendChild(el('td', d.status || ''));
      tr.appendChild(el('td', d.event_id || ''));
      tr.appendChild(el('td', d.type || ''));
      tr.appendChild(el('td', d.attempt || ''));
      tr.appendChild(el('td', [d.reason, d.error].filter(Boolean).join(': ')));
      tr.addEventListener('click', function () { showDetail(id, false); });
      tbody.appendChild(tr);
    });
    $('count').textContent = ids.length ? '(' + ids.length + ')' : '';
    $('empty').hidden = ids.length > 0;
  }

  function meta(dl, name, value) {
    if (value === undefined || value === null || value === '' || value === 0) { return; }
    dl.appendChild(el('dt', name));
    dl.appendChild(el('dd', value));
  }

  function renderDetail(d, title) {
    $('detail').hidden = false;
    $('detail-title').textContent = title;
    var dl = $('detail-meta');
    clear(dl);
    meta(dl, 'receiver', d.receiver);
    meta(dl, 'provider', d.provider);
    meta(dl, 'event ID', d.event_id);
    meta(dl, 'type', d.type);
    meta(dl, 'stage', STAGES[d.stage] || d.stage);
    meta(dl, 'status', d.status);
    meta(dl, 'reason', d.reason);
    meta(dl, 'error', d.error);
    meta(dl, 'attempt', d.attempt);
    meta(dl, 'request', [d.method, d.path].filter(Boolean).join(' ') + (d.query ? '?' + d.query : ''));
    meta(dl, 'from', d.remote);
    var ol = $('detail-steps');
    clear(ol);
    (d.steps || []).forEach(function (s) {
      var li = el('li');
      li.appendChild(el('span', time(s.at) + ' '));
      li.appendChild(stageBadge(s.stage));
      var extra = [s.status, s.attempt ? 'attempt ' + s.attempt : '', s.queue_wait ? 'waited ' + s.queue_wait : '',
        s.duration ? 'ran ' + s.duration : '', s.skew ? 'clock skew ' + s.skew : '', s.reason, s.error].filter(Boolean).join(' · ');
      if (extra) { li.appendChild(el('span', ' ' + extra)); }
      ol.appendChild(li);
    });
    var hb = $('detail-headers').tBodies[0];
    clear(hb);
    (d.headers || []).forEach(function (h) {
      var tr = el('tr');
      tr.appendChild(el('td', h.name));
      tr.appendChild(el('td', h.value, h.redacted ? 'redacted' : ''));
      hb.appendChild(tr);
    });
    if (d.headers_omitted) {
      var more = el('tr');
      more.appendChild(el('td', '… ' + d.headers_omitted + ' more not kept', 'muted'));
      hb.appendChild(more);
    }
    $('detail-payload').textContent = d.payload || (d.payload_kind === 'none' ? '(no payload)' : '');
    var note = d.payload_bytes ? d.payload_bytes + ' bytes, ' + d.payload_kind : '';
    if (d.payload_truncated) { note += ', cut'; }
    $('detail-payload-note').textContent = note ? '(' + note + '; secret fields redacted)' : '';
  }

  function showDetail(id, quiet) {
    selected = id;
    if (!quiet) { renderDeliveries(); }
    api('api/delivery?id=' + encodeURIComponent(id)).then(function (d) {
      if (selected === id) { renderDetail(d, '#' + id); }
    }).catch(function (err) {
      if (!failed(err) && !quiet) { $('status').textContent = err.message; }
    });
  }

  // ---- dead letters ----

  function loadDeadLetters() {
    clearTimeout(dlTimer);
    api('api/deadletters').then(function (res) {
      renderDeadLetters(res.sources || []);
      if (!stopped) { dlTimer = setTimeout(loadDeadLetters, Math.max(5000, pollMs)); }
    }).catch(function (err) {
      if (failed(err)) { return; }
      $('dl-message').textContent = err.message;
      if (!stopped) { dlTimer = setTimeout(loadDeadLetters, 10000); }
    });
  }

  function renderDeadLetters(sources) {
    var root = $('deadletters');
    clear(root);
    if (!sources.length) {
      root.appendChild(el('p', 'No dead-letter store configured.', 'muted'));
      return;
    }
    sources.forEach(function (src) {
      var sec = el('div', null, 'dl-source');
      sec.dataset.source = String(src.index);
      sec.appendChild(el('h3', src.name + ' (' + src.items.length + ')'));
      if (src.error) { sec.appendChild(el('p', src.error, 'error')); }
      if (!src.items.length) {
        sec.appendChild(el('p', 'None.', 'muted'));
        root.appendChild(sec);
        return;
      }
      var table = el('table', null, 'deadletters');
      var head = el('tr');
      ['Failed', 'Provider', 'Event ID', 'Type', 'Attempts', 'Reason', ''].forEach(function (h) { head.appendChild(el('th', h)); });
      table.appendChild(head);
      src.items.forEach(function (d) {
        var tr = el('tr', null, 'deadletter');
        tr.dataset.eventId = d.event_id || '';
        tr.appendChild(el('td', time(d.failed_at)));
        tr.appendChild(el('td', d.provider));
        tr.appendChild(el('td', d.event_id || d.key));
        tr.appendChild(el('td', d.type || ''));
        tr.appendChild(el('td', d.attempts));
        tr.appendChild(el('td', d.reason));
        var actions = el('td');
        var view = el('button', 'View', 'view');
        view.type = 'button';
        view.addEventListener('click', function () { viewDeadLetter(src, d); });
        actions.appendChild(view);
        if (src.replay) {
          var btn = el('button', 'Replay', 'replay');
          btn.type = 'button';
          btn.dataset.eventId = d.event_id || '';
          btn.dataset.key = d.key;
          btn.addEventListener('click', function () { replay(src, d, btn); });
          actions.appendChild(document.createTextNode(' '));
          actions.appendChild(btn);
        }
        tr.appendChild(actions);
        table.appendChild(tr);
      });
      sec.appendChild(table);
      root.appendChild(sec);
    });
  }

  function dlQuery(src, d) {
    return 'source=' + encodeURIComponent(src.index) + '&provider=' + encodeURIComponent(d.provider) + '&key=' + encodeURIComponent(d.key);
  }

  function viewDeadLetter(src, d) {
    selected = 0;
    renderDeliveries();
    api('api/deadletter?' + dlQuery(src, d)).then(function (res) {
      renderDetail(res, 'dead letter ' + (d.event_id || d.key));
    }).catch(function (err) {
      if (!failed(err)) { $('dl-message').textContent = err.message; }
    });
  }

  function replay(src, d, btn) {
    btn.disabled = true;
    var msg = $('dl-message');
    msg.className = '';
    msg.textContent = 'Replaying ' + (d.event_id || d.key) + '…';
    api('api/replay', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ source: src.index, provider: d.provider, key: d.key })
    }).then(function () {
      msg.className = 'ok';
      msg.textContent = 'Replayed ' + (d.event_id || d.key) + ': queued again.';
      loadDeadLetters();
    }).catch(function (err) {
      btn.disabled = false;
      if (failed(err)) { return; }
      msg.className = 'error';
      msg.textContent = 'Replay of ' + (d.event_id || d.key) + ' failed: ' + err.message;
    });
  }

  // ---- wiring ----

  $('login').addEventListener('submit', function (ev) {
    ev.preventDefault();
    token = $('token').value;
    $('token').value = '';
    try { sessionStorage.setItem(KEY, token); } catch (e) { /* private mode: this page load only */ }
    start();
  });
  $('forget').addEventListener('click', function () {
    token = '';
    try { sessionStorage.removeItem(KEY); } catch (e) { /* ignore */ }
    showLogin('');
  });
  $('detail-close').addEventListener('click', function () {
    selected = 0;
    $('detail').hidden = true;
    renderDeliveries();
  });
  $('dl-refresh').addEventListener('click', loadDeadLetters);

  if (token) { start(); } else { showLogin(''); }
}());
