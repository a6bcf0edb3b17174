/**
 * The admin page's script, served at /_berth/assets/admin.js: fills the
 * table of berths from GET /_berth/api/berths and the images pulled ahead
 * from GET /_berth/api/images every few seconds, filters the berths by user
 * as one types, and stops or restarts a berth.
 */
export const adminScript = `
(function () {
  var B = window.Berth, el = B.el;
  function $(id) { return document.getElementById(id); }
  var LABELS = { stopped: 'Stopped', starting: 'Starting', ready: 'Running', paused: 'Paused', stopping: 'Stopping', failed: 'Failed' };
  var berths = null, timer = null;

  function actionButton(action, b) {
    var idle = b.state === 'stopped' || b.state === 'stopping';
    return el('button', {
      type: 'button', class: (action === 'stop' ? 'danger' : 'secondary') + ' small', 'data-key': action + ':' + b.user,
      'aria-label': (action === 'stop' ? 'Stop' : 'Restart') + ' the berth of ' + b.user,
      disabled: action === 'stop' ? idle || b.state === 'failed' : b.state === 'stopping',
      onclick: function () { act(action, b.user); }
    }, [action === 'stop' ? 'Stop' : 'Restart']);
  }

  function row(b) {
    return el('tr', { 'data-user': b.user }, [
      el('td', { class: 'user', 'data-label': 'User' }, [el('strong', { text: b.user })]),
      el('td', { 'data-label': 'State' }, [el('div', { class: 'state-cell' }, [el('span', { class: 'badge ' + b.state, text: LABELS[b.state] || b.state }),
        b.state === 'failed' && b.failure ? el('span', { class: 'reason', text: b.failure.reason }) : null])]),
      el('td', { class: 'num', 'data-label': 'Started', text: b.state === 'ready' ? B.when(b.startedAt) : '—' }),
      el('td', { class: 'num', 'data-label': 'Last activity', text: B.ago(b.lastActivity) }),
      el('td', { class: 'mono small', 'data-label': 'Image' }, [b.image || 'local process',
        b.profile ? el('div', { class: 'profile', text: 'profile ' + B.profileText(b.profile) }) : null]),
      el('td', { 'data-label': 'Actions' }, [el('div', { class: 'table-actions' }, [actionButton('restart', b), actionButton('stop', b)])])
    ]);
  }

  function render() {
    if (berths === null) return;
    var query = $('search').value.trim().toLowerCase();
    var shown = berths.filter(function (b) { return b.user.toLowerCase().indexOf(query) !== -1; });
    var running = berths.filter(function (b) { return b.state === 'ready'; }).length;
    var failed = berths.filter(function (b) { return b.state === 'failed'; }).length;
    $('count').textContent = berths.length + (berths.length === 1 ? ' berth' : ' berths');
    $('summary').textContent = running + ' running' + (failed ? ', ' + failed + ' failed' : '') + (query ? ' · ' + shown.length + ' shown' : '');
    var focused = document.activeElement && document.activeElement.getAttribute('data-key');
    B.replace($('rows'), shown.length === 0
      ? [el('tr', {}, [el('td', { colspan: '6', class: 'empty', text: berths.length === 0 ? 'No berths yet: one appears when someone signs in.' : 'No berth matches "' + query + '".' })])]
      : shown.map(row));
    if (focused) {
      var again = document.querySelector('[data-key="' + focused.replace(/"/g, '') + '"]');
      if (again) again.focus();
    }
  }

  var PULLS = { queued: ['Queued', 'starting'], pulling: ['Pulling', 'starting'], present: ['Present', 'ready'], pulled: ['Pulled', 'ready'], failed: ['Failed', 'failed'] };

  function pullItem(p) {
    var label = PULLS[p.state] || [p.state, ''];
    var retry = p.retryAt ? ' Retrying at ' + B.when(p.retryAt) + ' (attempt ' + (p.attempts + 1) + ').' : '';
    return el('li', { 'data-image': p.image }, [el('span', { class: 'badge ' + label[1], text: label[0] }),
      el('div', { class: 'grow' }, [el('div', { class: 'title mono', text: p.image }), el('div', { class: 'meta', text: (retry ? p.message.replace(/\\.?$/, '.') : p.message) + retry })])]);
  }

  function loadImages() {
    return B.request('GET', '/_berth/api/images').then(function (r) {
      if (!r.ok) return;
      B.replace($('images'), r.data.images.length === 0
        ? [el('li', { class: 'empty', text: 'No images to pull ahead: this runtime pulls none, or no image is configured.' })]
        : r.data.images.map(pullItem));
    });
  }

  function load() {
    clearTimeout(timer);
    loadImages();
    return B.request('GET', '/_berth/api/berths').then(function (r) {
      if (r.ok) {
        berths = r.data.berths.sort(function (a, b) { return a.user < b.user ? -1 : a.user > b.user ? 1 : 0; });
        render();
      } else B.flash($('admin-flash'), r.message, 'bad');
      timer = setTimeout(load, 5000);
    });
  }

  function act(action, user) {
    B.flash($('admin-flash'), (action === 'stop' ? 'Stopping ' : 'Restarting ') + user + '…');
    B.request('POST', '/_berth/api/berths/' + action, { user: user }).then(function (r) {
      B.flash($('admin-flash'), r.ok ? (action === 'stop' ? 'Stopped ' : 'Restart requested for ') + user + '.' : r.message, r.ok ? 'ok' : 'bad');
      load();
    });
  }

  $('search').addEventListener('input', render);
  load();
})();
`;
