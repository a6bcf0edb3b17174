/**
 * The web terminal page's script, served at /_berth/assets/terminal.js after
 * common.js and the xterm.js builds: fetches a ticket (a POST with the CSRF
 * token), opens /_berth/api/me/terminal with the window's size in the URL
 * and the ticket as a subprotocol, and reconnects with a fresh ticket when
 * the socket drops, showing "reconnecting…" until the screen is back.
 * xterm.js sizes its grid with <style> elements; they get the page's style
 * nonce, so the Content-Security-Policy needs no 'unsafe-inline'.
 */
export const terminalScript = `
(function () {
  var nonceMeta = document.querySelector('meta[name="berth-style-nonce"]');
  var nonce = nonceMeta ? nonceMeta.getAttribute('content') : '';
  var createElement = document.createElement;
  document.createElement = function (tag, options) {
    var node = createElement.call(document, tag, options);
    if (String(tag).toLowerCase() === 'style') node.nonce = nonce;
    return node;
  };

  var root = document.getElementById('terminal');
  var status = document.getElementById('term-status');
  var notices = document.getElementById('term-notices');
  var owner = root.getAttribute('data-owner') || '';
  var dark = window.matchMedia('(prefers-color-scheme: dark)');
  var themes = {
    dark: { background: '#0d1117', foreground: '#e6edf3', cursor: '#e6edf3', selectionBackground: '#264f78' },
    light: { background: '#ffffff', foreground: '#1c2430', cursor: '#1c2430', selectionBackground: '#b3d4fc' }
  };
  var small = window.matchMedia('(max-width: 640px)').matches;
  var term = new Terminal({
    cursorBlink: true,
    fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace',
    fontSize: small ? 12 : 14,
    scrollback: 5000,
    theme: dark.matches ? themes.dark : themes.light
  });
  var fit = new FitAddon.FitAddon();
  var search = new SearchAddon.SearchAddon();
  term.loadAddon(fit);
  term.loadAddon(search);
  term.loadAddon(new WebLinksAddon.WebLinksAddon(function (event, uri) {
    var opened = window.open(uri, '_blank', 'noopener');
    if (opened) opened.opener = null;
  }));
  term.open(root);
  fit.fit();
  term.focus();
  dark.addEventListener('change', function () { term.options.theme = dark.matches ? themes.dark : themes.light; });

  // Ctrl+Shift+C copies the selection; Ctrl+Shift+V and the browser's own paste go through xterm's paste handling.
  term.attachCustomKeyEventHandler(function (event) {
    if (event.type !== 'keydown' || !event.ctrlKey || !event.shiftKey) return true;
    if (event.code === 'KeyC' && term.hasSelection()) {
      if (navigator.clipboard) navigator.clipboard.writeText(term.getSelection()).catch(function () {});
      return false;
    }
    if (event.code === 'KeyV' && navigator.clipboard && navigator.clipboard.readText) {
      navigator.clipboard.readText().then(function (text) { term.paste(text); }, function () {});
      return false;
    }
    return true;
  });

  var socket = null;
  var ended = false;
  var attempts = 0;
  var encoder = new TextEncoder();

  function setStatus(text, kind) {
    status.textContent = text;
    status.setAttribute('data-kind', kind);
  }

  function notice(text) {
    var item = document.createElement('span');
    item.className = 'term-notice';
    item.textContent = text;
    notices.appendChild(item);
  }

  function connect() {
    setStatus(attempts === 0 ? 'connecting…' : 'reconnecting…', 'wait');
    var body = owner ? { user: owner } : {};
    Berth.request('POST', '/_berth/api/me/terminal/tickets', body).then(function (res) {
      if (!res.ok) return retry(res.status === 401 || res.status === 403 ? res.message : null);
      var query = '?cols=' + term.cols + '&rows=' + term.rows + (owner ? '&user=' + encodeURIComponent(owner) : '');
      var scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
      var ws = new WebSocket(scheme + location.host + '/_berth/api/me/terminal' + query, ['berth.terminal', 'berth.ticket.' + res.data.ticket]);
      ws.binaryType = 'arraybuffer';
      socket = ws;
      ws.onopen = function () { notices.textContent = ''; };
      ws.onmessage = function (event) {
        if (typeof event.data !== 'string') { term.write(new Uint8Array(event.data)); return; }
        var message = JSON.parse(event.data);
        if (message.type === 'attached') {
          attempts = 0;
          // The gateway's screen replaces whatever this tab showed, so a reconnect shows it as it is.
          term.reset();
          setStatus('connected', 'ok');
          sendSize();
        } else if (message.type === 'notice') {
          notice(message.text);
        } else if (message.type === 'exit') {
          ended = true;
          setStatus('ended' + (message.code !== null ? ' (exit ' + message.code + ')' : ''), 'off');
        }
      };
      ws.onclose = function (event) {
        if (socket !== ws) return;
        socket = null;
        if (event.code === 4000) ended = true;
        if (ended) { setStatus(status.getAttribute('data-kind') === 'off' ? status.textContent : 'ended', 'off'); return; }
        retry(null);
      };
    });
  }

  function retry(fatal) {
    if (fatal) { setStatus(fatal, 'off'); ended = true; return; }
    attempts += 1;
    setStatus('reconnecting…', 'wait');
    setTimeout(connect, Math.min(10000, 500 * Math.pow(2, attempts - 1)));
  }

  function send(data) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(data);
  }

  function sendSize() {
    send(JSON.stringify({ type: 'resize', cols: term.cols, rows: term.rows }));
  }

  term.onData(function (data) { send(encoder.encode(data)); });
  term.onBinary(function (data) {
    var bytes = new Uint8Array(data.length);
    for (var i = 0; i < data.length; i++) bytes[i] = data.charCodeAt(i) & 255;
    send(bytes);
  });
  term.onResize(sendSize);
  window.addEventListener('resize', function () { fit.fit(); });

  var searchBox = document.getElementById('term-search');
  searchBox.addEventListener('keydown', function (event) {
    if (event.key === 'Enter') search[event.shiftKey ? 'findPrevious' : 'findNext'](searchBox.value);
    if (event.key === 'Escape') { searchBox.value = ''; search.clearDecorations(); term.focus(); }
  });
  document.getElementById('term-close').addEventListener('click', function () {
    ended = true;
    send(JSON.stringify({ type: 'close' }));
    setStatus('closing…', 'wait');
  });

  connect();
})();
`;

/** The full-window layout of the terminal page, beside berth.css and xterm.css. */
export const terminalStylesheet = `
html, body.terminal-page { height: 100%; }
body.terminal-page { display: flex; flex-direction: column; margin: 0; overflow: hidden; background: var(--card); }
.term-bar { display: flex; align-items: center; gap: 10px; padding: 6px 12px; border-bottom: 1px solid var(--line); flex-wrap: wrap; }
.term-bar .brand { font-weight: 650; color: var(--text); text-decoration: none; }
.term-bar .grow { flex: 1; }
.term-bar input[type=search] { width: 14em; padding: 4px 8px; }
#term-status[data-kind=ok] { color: var(--ok, #1a7f37); }
#term-status[data-kind=wait] { color: var(--warn, #9a6700); }
#term-status[data-kind=off] { color: var(--bad, #cf222e); }
.term-notice { font-size: 0.85rem; color: var(--muted); margin-right: 8px; }
#terminal { flex: 1; min-height: 0; padding: 4px 0 0 6px; }
`;
