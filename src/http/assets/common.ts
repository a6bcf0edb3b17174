/**
 * Helpers every gateway page script shares, served at
 * /_berth/assets/common.js and loaded before the page's own script: API
 * requests carrying the CSRF token, element building without innerHTML, and
 * durations in words.
 */
export const commonScript = `
(function () {
  var meta = document.querySelector('meta[name="berth-csrf"]');
  var csrf = meta ? meta.getAttribute('content') : '';

  function request(method, path, body) {
    var headers = { accept: 'application/json' };
    if (method !== 'GET') headers['x-berth-csrf'] = csrf;
    if (body !== undefined) headers['content-type'] = 'application/json';
    var init = { method: method, headers: headers, credentials: 'same-origin' };
    if (body !== undefined) init.body = JSON.stringify(body);
    return fetch(path, init).then(function (res) {
      return res.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        var message = data && data.error ? data.error.message : (res.ok ? '' : 'The gateway answered ' + res.status + '.');
        return { status: res.status, ok: res.ok, data: data, message: message };
      });
    }, function () {
      return { status: 0, ok: false, data: null, message: 'The gateway cannot be reached; check your connection and try again.' };
    });
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === null || value === undefined || value === false) return;
      if (name === 'text') node.textContent = value;
      else if (name.slice(0, 2) === 'on') node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? '' : value);
    });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    });
    return node;
  }

  function replace(node, children) {
    while (node.firstChild) node.removeChild(node.firstChild);
    children.forEach(function (child) { node.appendChild(child); });
  }

  function duration(ms) {
    var s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + ' s';
    var m = Math.floor(s / 60);
    if (m < 60) return m + ' min ' + (s % 60 < 10 ? '0' : '') + (s % 60) + ' s';
    var h = Math.floor(m / 60);
    if (h < 48) return h + ' h ' + (m % 60) + ' min';
    return Math.floor(h / 24) + ' days';
  }

  function ago(iso) {
    if (!iso) return '—';
    var ms = Date.now() - new Date(iso).getTime();
    if (ms < 45000) return 'just now';
    return duration(ms).replace(/ \\d+ s$/, '') + ' ago';
  }

  function when(iso) {
    if (!iso) return '—';
    var d = new Date(iso);
    var sameDay = d.toDateString() === new Date().toDateString();
    return sameDay ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
      : d.toLocaleDateString([], { month: 'short', day: 'numeric' }) + ' ' + d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  // Good news fades after a while; problems stay until the next action.
  function flash(node, text, kind) {
    clearTimeout(node.berthTimer);
    node.textContent = text || '';
    node.className = 'flash' + (kind ? ' ' + kind : '');
    if (kind === 'ok') node.berthTimer = setTimeout(function () { node.textContent = ''; }, 5000);
  }

  function copyButtons(root) {
    Array.prototype.forEach.call(root.querySelectorAll('[data-copy]'), function (button) {
      button.addEventListener('click', function () {
        var source = document.getElementById(button.getAttribute('data-copy'));
        var text = source.value !== undefined ? source.value : source.textContent;
        var done = function () { button.textContent = 'Copied'; setTimeout(function () { button.textContent = 'Copy'; }, 1500); };
        if (navigator.clipboard && window.isSecureContext) { navigator.clipboard.writeText(text).then(done, function () {}); return; }
        var range = document.createRange();
        range.selectNodeContents(source);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        try { document.execCommand('copy'); done(); } catch (e) { button.textContent = 'Press Ctrl+C'; }
      });
    });
  }

  // What a profile form (pages/profileChoice.ts) asks for: the checked profile and its options' choices.
  function pickedProfile(form) {
    var radio = form.querySelector('input[name="profile"]:checked');
    if (!radio) return {};
    var options = {};
    var item = form.querySelector('li[data-profile="' + radio.value + '"]');
    Array.prototype.forEach.call(item.querySelectorAll('select[data-option]'), function (select) { options[select.getAttribute('data-option')] = select.value; });
    return { profile: radio.value, options: options };
  }

  // A berth's profile in words: "gpu (size: four)", or a dash without profiles.
  function profileText(p) {
    if (!p) return '—';
    var options = Object.keys(p.options || {}).map(function (k) { return k + ': ' + p.options[k]; });
    return p.profile + (options.length ? ' (' + options.join(', ') + ')' : '');
  }

  window.Berth = { profileText: profileText, pickedProfile: pickedProfile, request: request, el: el, replace: replace, duration: duration, ago: ago, when: when, flash: flash, copyButtons: copyButtons };
})();
`;
