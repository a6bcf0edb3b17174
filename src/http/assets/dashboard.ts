/**
 * The dashboard's script, served at /_berth/assets/dashboard.js: fills the
 * berth card, SSH keys, API tokens, ports and events from the API and keeps
 * them fresh. Sections whose API answers 404 (a gateway without that
 * feature) say they are unavailable instead of breaking the page.
 */
export const dashboardScript = `
(function () {
  var B = window.Berth, el = B.el;
  function $(id) { return document.getElementById(id); }
  var me = null, busy = false, timer = null;
  var LABELS = { stopped: 'Stopped', starting: 'Starting', ready: 'Running', paused: 'Paused', stopping: 'Stopping', failed: 'Failed' };
  var KINDS = { ready: 'Started', failed: 'Failed to start', stopped: 'Stopped' };
  var SHARES = [['owner', 'Only me'], ['users', 'Signed-in users'], ['public', 'Anyone with the link']];

  function lastProgress(b) {
    var p = b.progress && b.progress[b.progress.length - 1];
    return p ? ' ' + p.message.charAt(0).toUpperCase() + p.message.slice(1) + '.' : '';
  }

  function renderBerth() {
    var b = me.berth;
    $('state').textContent = LABELS[b.state] || b.state;
    $('state').className = 'badge ' + b.state;
    $('summary').textContent = {
      stopped: 'Your berth is stopped; your home directory is kept. Open it or press Start to start it again.',
      starting: 'Your berth is starting.' + lastProgress(b),
      ready: 'Your berth is running. It stops by itself when idle; your files stay.',
      paused: 'Your berth is paused while idle, with its processes and memory kept; opening it resumes it at once.',
      stopping: 'Your berth is stopping.',
      failed: 'Your berth could not start. Its last output is below; Start tries again.'
    }[b.state] || '';
    $('started').textContent = b.state === 'ready' ? B.when(b.startedAt) : '—';
    $('image').textContent = b.image || 'local process';
    $('profile').textContent = B.profileText(b.profile);
    var failed = b.state === 'failed' && b.failure;
    $('failure').classList.toggle('hidden', !failed);
    if (failed) {
      $('failure-reason').textContent = b.failure.reason;
      $('failure-log').textContent = (b.failure.logTail || []).join('\\n') || '(no output)';
    }
    $('start').disabled = busy || b.state === 'ready' || b.state === 'starting' || b.state === 'stopping';
    $('stop').disabled = busy || b.state === 'stopped' || b.state === 'stopping' || b.state === 'failed';
    $('restart').disabled = busy || (b.state !== 'ready' && b.state !== 'failed');
    tick();
  }

  function tick() {
    if (!me) return;
    var b = me.berth, now = Date.now();
    $('uptime').textContent = b.state === 'ready' && b.startedAt ? B.duration(now - new Date(b.startedAt).getTime()) : '—';
    $('idle').textContent = b.idleStopAt ? B.duration(new Date(b.idleStopAt).getTime() - now) : '—';
  }

  function refresh() {
    return B.request('GET', '/_berth/api/me').then(function (r) {
      if (r.status === 401) { location.reload(); return; }
      if (r.ok) { me = r.data; renderBerth(); }
      schedule();
    });
  }

  function schedule() {
    clearTimeout(timer);
    var moving = me && (me.berth.state === 'starting' || me.berth.state === 'stopping');
    timer = setTimeout(function () { refresh(); loadEvents(); loadPorts(); }, moving ? 1500 : 15000);
  }

  var DOING = { start: 'Starting…', stop: 'Stopping…', restart: 'Restarting…' };
  var DONE = { start: 'Start requested.', stop: 'Stopped. Your home directory is kept.', restart: 'Restart requested.' };
  function act(action) {
    busy = true;
    if (me) renderBerth();
    B.flash($('berth-flash'), DOING[action]);
    B.request('POST', '/_berth/api/me/' + action).then(function (r) {
      busy = false;
      if (r.ok) { me.berth = r.data; B.flash($('berth-flash'), DONE[action], 'ok'); }
      else B.flash($('berth-flash'), r.message, 'bad');
      renderBerth();
      refresh();
      loadEvents();
    });
  }
  ['start', 'stop', 'restart'].forEach(function (action) { $(action).addEventListener('click', function () { act(action); }); });

  var profileForm = $('profile-form');
  if (profileForm) {
    profileForm.addEventListener('submit', function (event) {
      event.preventDefault();
      var picked = B.pickedProfile(profileForm);
      busy = true;
      B.flash($('berth-flash'), 'Starting ' + picked.profile + '…');
      B.request('POST', '/_berth/api/me/start', picked).then(function (r) {
        busy = false;
        if (r.ok) { me.berth = r.data; B.flash($('berth-flash'), 'Start of ' + picked.profile + ' requested.', 'ok'); }
        else B.flash($('berth-flash'), r.message, 'bad');
        renderBerth();
        refresh();
      });
    });
  }

  function empty(text) { return el('li', { class: 'empty', text: text }); }

  function loadKeys() {
    return B.request('GET', '/_berth/api/me/keys').then(function (r) {
      var list = $('key-list');
      if (!r.ok) { B.replace(list, [empty(r.status === 404 ? 'SSH keys are not available on this gateway.' : r.message)]); return; }
      var keys = r.data.keys;
      B.replace(list, keys.length === 0 ? [empty('No keys yet. Add the contents of your .pub file below.')] : keys.map(function (k) {
        return el('li', {}, [
          el('div', { class: 'grow' }, [
            el('div', { class: 'title', text: k.comment || k.type }),
            el('div', { class: 'meta mono', text: k.fingerprint }),
            el('div', { class: 'meta', text: k.type + ' · added ' + B.when(k.createdAt) })
          ]),
          el('button', { type: 'button', class: 'danger small', 'aria-label': 'Remove key ' + (k.comment || k.fingerprint), onclick: function () { removeKey(k); } }, ['Remove'])
        ]);
      }));
    });
  }

  function removeKey(k) {
    B.request('DELETE', '/_berth/api/me/keys?id=' + encodeURIComponent(k.id)).then(function (r) {
      B.flash($('key-flash'), r.ok ? 'Key removed.' : r.message, r.ok ? 'ok' : 'bad');
      loadKeys();
    });
  }

  $('key-form').addEventListener('submit', function (event) {
    event.preventDefault();
    var text = $('key-text').value.trim();
    if (!text) return;
    B.request('POST', '/_berth/api/me/keys', { key: text }).then(function (r) {
      if (r.ok) { $('key-text').value = ''; B.flash($('key-flash'), r.status === 201 ? 'Key added: ' + r.data.fingerprint : 'You already had this key.', 'ok'); }
      else B.flash($('key-flash'), r.message, 'bad');
      loadKeys();
    });
  });

  function tokenList(tokens) {
    if (tokens.length === 0) return el('ul', { class: 'list', id: 'token-list' }, [empty('No tokens yet.')]);
    return el('ul', { class: 'list', id: 'token-list' }, tokens.map(function (t) {
      var expiry = t.expiresAt ? 'expires ' + B.when(t.expiresAt) : 'never expires';
      return el('li', {}, [
        el('div', { class: 'grow' }, [
          el('div', { class: 'title', text: t.name || 'Token ' + t.id }),
          el('div', { class: 'meta', text: (t.scopes || []).join(', ') + ' · ' + expiry + ' · ' + (t.lastUsedAt ? 'used ' + B.ago(t.lastUsedAt) : 'never used') })
        ]),
        el('button', { type: 'button', class: 'danger small', 'aria-label': 'Revoke token ' + (t.name || t.id), onclick: function () { revokeToken(t); } }, ['Revoke'])
      ]);
    }));
  }

  function tokenForm() {
    var expiries = [['86400', '1 day'], ['604800', '7 days'], ['2592000', '30 days'], ['7776000', '90 days']];
    var form = el('form', { id: 'token-form' }, [
      el('div', { class: 'row' }, [
        el('div', { class: 'field' }, [el('label', { for: 'token-name', text: 'Name' }), el('input', { type: 'text', id: 'token-name', maxlength: '80', placeholder: 'e.g. laptop script' })]),
        el('div', { class: 'field' }, [el('label', { for: 'token-expiry', text: 'Expires after' }),
          el('select', { id: 'token-expiry' }, expiries.map(function (e) { return el('option', { value: e[0], selected: e[0] === '2592000' }, [e[1]]); }))])
      ]),
      el('fieldset', {}, [el('legend', { text: 'Scopes' }),
        el('label', { class: 'check' }, [el('input', { type: 'checkbox', name: 'scope', value: 'api', checked: true }), 'api (this gateway\\'s API)']),
        el('label', { class: 'check' }, [el('input', { type: 'checkbox', name: 'scope', value: 'apps' }), 'apps (your berth and ports)'])]),
      el('button', { type: 'submit' }, ['Create token'])
    ]);
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var scopes = Array.prototype.filter.call(form.querySelectorAll('input[name=scope]'), function (c) { return c.checked; }).map(function (c) { return c.value; });
      if (scopes.length === 0) { B.flash($('token-flash'), 'Choose at least one scope.', 'bad'); return; }
      var body = { scopes: scopes, expiresInSeconds: Number($('token-expiry').value) };
      var name = $('token-name').value.trim();
      if (name) body.name = name;
      B.request('POST', '/_berth/api/me/tokens', body).then(function (r) {
        if (!r.ok) { B.flash($('token-flash'), r.message, 'bad'); return; }
        B.flash($('token-flash'), '');
        loadTokens(r.data.token);
      });
    });
    return form;
  }

  function newTokenBox(token) {
    var box = el('div', { class: 'secret', role: 'alert' }, [
      el('strong', { text: 'Copy your new token now: it is not shown again.' }),
      el('div', { class: 'copy' }, [el('code', { id: 'new-token', text: token }), el('button', { type: 'button', class: 'secondary small', 'data-copy': 'new-token' }, ['Copy'])])
    ]);
    B.copyButtons(box);
    return box;
  }

  function loadTokens(created) {
    return B.request('GET', '/_berth/api/me/tokens').then(function (r) {
      var body = $('token-body');
      if (r.status === 404) { B.replace(body, [el('p', { class: 'unavailable', text: 'API tokens are not available on this gateway yet.' })]); return; }
      if (!r.ok) { B.replace(body, [el('p', { class: 'unavailable', text: r.message })]); return; }
      B.replace(body, [created ? newTokenBox(created) : null, tokenList(r.data.tokens), tokenForm()].filter(Boolean));
    });
  }

  function revokeToken(t) {
    B.request('DELETE', '/_berth/api/me/tokens/' + encodeURIComponent(t.id)).then(function (r) {
      B.flash($('token-flash'), r.ok ? 'Token revoked.' : r.message, r.ok ? 'ok' : 'bad');
      loadTokens();
    });
  }

  function portRow(p) {
    var select = el('select', { 'aria-label': 'Who may open port ' + p.port, onchange: function () { share(p, select.value); } },
      SHARES.map(function (s) { return el('option', { value: s[0], selected: s[0] === p.share }, [s[1]]); }));
    return el('li', {}, [
      el('div', { class: 'grow' }, [
        el('div', { class: 'title' }, ['Port ' + p.port + ' ', el('span', { class: 'badge ' + (p.listening ? 'ready' : 'stopped'), text: p.listening ? 'listening' : 'not listening' })]
          .concat(p.loopbackOnly ? [' ', el('span', { class: 'badge', title: 'It listens only on 127.0.0.1 or ::1 inside the berth', text: 'loopback only' })] : [])),
        p.unreachable ? el('div', { class: 'meta unavailable', text: p.unreachable }) : null,
        p.url ? el('a', { class: 'meta', href: p.url, target: '_blank', rel: 'noopener', text: p.url }) : el('div', { class: 'meta', text: 'No address: the gateway has no apps domain.' })
      ]),
      select
    ]);
  }

  function loadPorts() {
    return B.request('GET', '/_berth/api/me/ports').then(function (r) {
      var body = $('port-body');
      if (document.activeElement && body.contains(document.activeElement)) return;
      if (r.status === 404) { B.replace(body, [el('p', { class: 'unavailable', text: 'Per-port addresses are not available on this gateway yet.' })]); return; }
      if (!r.ok) { B.replace(body, [el('p', { class: 'unavailable', text: r.message })]); return; }
      var ports = r.data.ports;
      B.replace(body, [el('ul', { class: 'list', id: 'port-list' }, ports.length === 0
        ? [empty('Nothing is listening in your berth yet. Start a web server on any port and it appears here.')]
        : ports.map(portRow))]);
    });
  }

  function share(p, value) {
    B.request('PUT', '/_berth/api/me/ports/' + p.port, { share: value }).then(function (r) {
      B.flash($('port-flash'), r.ok ? 'Port ' + p.port + ' is now shared with: ' + SHARES.filter(function (s) { return s[0] === value; })[0][1].toLowerCase() + '.' : r.message, r.ok ? 'ok' : 'bad');
      loadPorts();
    });
  }

  function loadEvents() {
    return B.request('GET', '/_berth/api/me/events').then(function (r) {
      var list = $('event-list');
      if (!r.ok) { B.replace(list, [empty(r.message)]); return; }
      B.replace(list, r.data.events.length === 0 ? [empty('Nothing has happened to your berth yet.')] : r.data.events.map(function (e) {
        return el('li', {}, [
          el('time', { datetime: e.at, text: B.when(e.at) }),
          el('div', { class: 'grow' }, [el('span', { class: 'kind ' + e.kind, text: KINDS[e.kind] || e.kind }), ' · ', e.message])
        ]);
      }));
    });
  }

  B.copyButtons(document);
  refresh();
  loadKeys();
  loadTokens();
  loadPorts();
  loadEvents();
  setInterval(tick, 1000);
})();
`;
