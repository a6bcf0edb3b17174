/**
 * The loading page's script, served at /_berth/assets/loading.js (after
 * common.js). Plain browser JavaScript in a string: the gateway serves it
 * from memory, and the page's CSP allows only same-origin scripts.
 */
export const loadingScript = `
(function () {
  var steps = ['queued', 'starting', 'waiting', 'ready'];
  var stepOf = { queued: 'queued', pulling: 'starting', creating: 'starting', starting: 'starting', waiting: 'waiting', ready: 'ready' };
  var message = document.getElementById('message');
  var failure = document.getElementById('failure');
  var headline = document.getElementById('headline');
  var hint = document.getElementById('hint');
  var hintText = hint.textContent;
  var source = null, began = null, ticker = null;

  function item(step) { return document.querySelector('#steps li[data-step="' + step + '"]'); }
  function seconds(ms) { return (ms / 1000).toFixed(1) + ' s'; }
  function stopTicking() { clearInterval(ticker); ticker = null; }
  function tickActive() {
    var active = document.querySelector('#steps li.active .time');
    if (active && began !== null) active.textContent = seconds(Date.now() - began);
  }
  function reset() {
    steps.forEach(function (s) { var li = item(s); li.className = ''; li.querySelector('.time').textContent = ''; });
    failure.classList.add('hidden');
    headline.textContent = 'Starting your environment';
    hint.textContent = hintText;
    began = null;
  }
  function mark(step, elapsedMs) {
    began = Date.now() - elapsedMs;
    var index = steps.indexOf(step);
    steps.forEach(function (s, i) {
      var li = item(s);
      if (i < index) li.className = 'done';
      else if (i === index) { li.className = step === 'ready' ? 'done' : 'active'; li.querySelector('.time').textContent = seconds(elapsedMs); }
    });
    if (!ticker && step !== 'ready') ticker = setInterval(tickActive, 200);
  }
  function showFailure(f) {
    stopTicking();
    var active = document.querySelector('#steps li.active');
    if (active) active.className = 'failed';
    headline.textContent = 'Your environment could not start';
    hint.textContent = 'Here is what happened; Retry starts it again.';
    document.getElementById('reason').textContent = f.reason;
    document.getElementById('log').textContent = (f.logTail || []).join('\\n') || '(no output)';
    failure.classList.remove('hidden');
    message.textContent = '';
    document.getElementById('retry').focus();
  }
  function follow() {
    if (source) source.close();
    source = new EventSource('/_berth/api/me/progress');
    source.addEventListener('progress', function (e) {
      var ev = JSON.parse(e.data);
      if (ev.step === 'failed') { source.close(); showFailure(ev.failure || { reason: ev.message }); return; }
      if (ev.step === 'stopped') { message.textContent = ev.message; return; }
      mark(stepOf[ev.step] || 'starting', ev.elapsedMs);
      message.textContent = ev.message;
      if (ev.step === 'ready') { stopTicking(); source.close(); location.reload(); }
    });
    source.addEventListener('state', function (e) {
      var st = JSON.parse(e.data);
      if (st.state === 'ready') { source.close(); location.reload(); }
      if (st.state === 'failed' && st.failure) { source.close(); showFailure(st.failure); }
    });
    source.onerror = function () { message.textContent = 'Connection to the gateway lost; retrying…'; };
  }
  document.getElementById('retry').addEventListener('click', function () {
    reset();
    window.Berth.request('POST', '/_berth/api/me/start').then(function (r) {
      if (!r.ok) message.textContent = r.message;
      follow();
    });
  });
  var choice = document.getElementById('profile-form');
  if (choice) {
    choice.addEventListener('submit', function (e) {
      e.preventDefault();
      var picked = window.Berth.pickedProfile(choice);
      window.Berth.request('POST', '/_berth/api/me/start', picked).then(function (r) {
        if (!r.ok) { message.textContent = r.message; return; }
        document.getElementById('choice').classList.add('hidden');
        document.getElementById('steps').classList.remove('hidden');
        reset();
        follow();
      });
    });
  } else if (document.getElementById('loading').dataset.state === 'failed') {
    showFailure({ reason: document.getElementById('reason').textContent, logTail: document.getElementById('log').textContent.split('\\n') });
  } else {
    follow();
  }
})();
`;
