/**
 * The recordings card of the admin page (every user's, with a user filter)
 * and of the dashboard (the user's own), served at
 * /_berth/assets/recordings.js after common.js and asciinema-player.js:
 * lists GET /_berth/api/recordings and plays one in the page with
 * asciinema-player, which fetches the file from
 * GET /_berth/api/recordings/<id> with the page's own cookie.
 */
export const recordingsScript = `
(function () {
  var card = document.getElementById('recordings');
  if (!card) return;
  var list = document.getElementById('recording-list');
  var filter = document.getElementById('recording-user');
  var stage = document.getElementById('recording-player');
  var flash = document.getElementById('recording-flash');
  var el = Berth.el;
  var player = null;

  function size(bytes) {
    if (bytes < 1024) return bytes + ' B';
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(1) + ' KiB';
    return (bytes / 1024 / 1024).toFixed(1) + ' MiB';
  }

  function play(recording) {
    if (player) player.dispose();
    Berth.replace(stage, []);
    stage.setAttribute('data-recording', recording.id);
    player = AsciinemaPlayer.create('/_berth/api/recordings/' + encodeURIComponent(recording.id), stage, { fit: 'width', autoPlay: true, idleTimeLimit: 2 });
    Berth.flash(flash, 'Playing ' + recording.user + ' (' + recording.kind + ') from ' + Berth.when(recording.startedAt) + '.', 'ok');
  }

  function load() {
    var user = filter ? filter.value.trim() : '';
    Berth.request('GET', '/_berth/api/recordings' + (user ? '?user=' + encodeURIComponent(user) : '')).then(function (res) {
      if (!res.ok) { Berth.flash(flash, res.message, 'bad'); return; }
      var rows = res.data.recordings;
      if (rows.length === 0) { Berth.replace(list, [el('li', { 'class': 'empty', text: 'No recordings.' })]); return; }
      Berth.replace(list, rows.map(function (r) {
        return el('li', { 'data-id': r.id }, [
          el('div', { 'class': 'grow' }, [
            el('div', { 'class': 'title', text: r.user + ' · ' + (r.kind === 'ssh' ? 'SSH' : 'web terminal') }),
            el('div', { 'class': 'meta', text: Berth.when(r.startedAt) + ' · ' + Berth.duration(r.durationSeconds * 1000) + ' · ' + size(r.bytes) })
          ]),
          el('button', { type: 'button', 'class': 'secondary small', 'data-play': r.id, text: 'Play', onclick: function () { play(r); } })
        ]);
      }));
    });
  }

  if (filter) filter.addEventListener('change', load);
  load();
})();
`;
