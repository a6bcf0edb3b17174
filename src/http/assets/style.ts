/** The gateway's one stylesheet, served at /_berth/assets/berth.css; no external fonts or CDNs. */
export const stylesheet = `
:root {
  color-scheme: light dark;
  --bg: #f5f6f8; --card: #ffffff; --text: #1c2430; --muted: #5b6676; --line: #dde2e8; --hover: #eef1f5;
  --accent: #1f6feb; --accent-text: #ffffff; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e;
  --ok-bg: #dafbe1; --warn-bg: #fff8c5; --bad-bg: #ffebe9; --idle-bg: #eaeef2;
  --code-bg: #f0f2f5; --radius: 10px;
  --mono: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --card: #161b22; --text: #e6edf3; --muted: #8d96a0; --line: #30363d; --hover: #1f2630;
    --accent: #2f81f7; --ok: #3fb950; --warn: #d29922; --bad: #f85149;
    --ok-bg: #12261e; --warn-bg: #272115; --bad-bg: #2d1618; --idle-bg: #21262d; --code-bg: #0b0f14; }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--text); font-size: 16px; line-height: 1.5; }
main { max-width: 720px; margin: 0 auto; padding: 48px 20px; }
main.wide { max-width: 1040px; padding-top: 24px; }
a { color: var(--accent); }
.brand { display: flex; align-items: center; gap: 10px; font-weight: 650; font-size: 1.05rem; color: var(--text); margin-bottom: 24px; text-decoration: none; }
.brand svg { width: 28px; height: 28px; color: var(--accent); }
.topbar { display: flex; align-items: center; justify-content: space-between; gap: 12px; flex-wrap: wrap; margin-bottom: 24px; }
.topbar .brand { margin: 0; }
.topbar nav { display: flex; align-items: center; gap: 6px; flex-wrap: wrap; }
.topbar nav a { padding: 6px 10px; border-radius: 8px; color: var(--muted); text-decoration: none; font-weight: 550; }
.topbar nav a:hover { background: var(--hover); color: var(--text); }
.topbar nav a[aria-current=page] { color: var(--text); background: var(--card); border: 1px solid var(--line); }
.topbar form { margin: 0; }
.who { color: var(--muted); font-size: 0.9rem; padding: 0 6px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: var(--radius); padding: 24px; margin-bottom: 20px; min-width: 0; }
.card.narrow { max-width: 460px; margin: 0 auto; padding: 32px; }
main:has(.card.narrow) > .brand { justify-content: center; margin: 8vh 0 28px; font-size: 1.2rem; }
main:has(.card.narrow) > .brand svg { width: 34px; height: 34px; }
.card h2 { font-size: 1.1rem; margin: 0 0 4px; }
.card > .sub { color: var(--muted); font-size: 0.92rem; margin-bottom: 16px; }
.grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 20px; align-items: start; }
.grid > .card { margin-bottom: 0; }
.grid > .span { grid-column: 1 / -1; }
h1 { font-size: 1.5rem; margin: 0 0 8px; line-height: 1.25; }
p { margin: 0 0 16px; }
.muted { color: var(--muted); }
.small { font-size: 0.875rem; }
label { display: block; font-weight: 600; margin-bottom: 6px; }
input[type=text], input[type=search], input[type=password], input[type=number], select, textarea {
  width: 100%; padding: 9px 12px; border: 1px solid var(--line); border-radius: 8px; background: var(--bg); color: var(--text); font: inherit; }
textarea { font-family: var(--mono); font-size: 0.85rem; min-height: 84px; resize: vertical; }
.field { margin-bottom: 12px; }
.row { display: flex; gap: 10px; flex-wrap: wrap; align-items: end; }
.row > .field { flex: 1 1 160px; margin-bottom: 0; }
fieldset { border: 0; padding: 0; margin: 0 0 12px; }
legend { font-weight: 600; margin-bottom: 6px; padding: 0; }
.check { display: inline-flex; align-items: center; gap: 6px; font-weight: 400; margin-right: 16px; }
button, .button { display: inline-flex; align-items: center; justify-content: center; gap: 6px; padding: 9px 16px; border-radius: 8px;
  border: 1px solid transparent; background: var(--accent); color: var(--accent-text); font: inherit; font-weight: 600; cursor: pointer;
  text-decoration: none; line-height: 1.3; min-height: 40px; }
button:hover, .button:hover { filter: brightness(1.08); }
button.secondary, .button.secondary { background: transparent; color: var(--text); border-color: var(--line); }
button.secondary:hover { background: var(--hover); filter: none; }
button.danger { background: transparent; color: var(--bad); border-color: var(--line); }
button.danger:hover { background: var(--bad-bg); filter: none; }
button.small, .button.small { padding: 4px 10px; min-height: 32px; font-size: 0.875rem; }
button.link { background: none; border: 0; color: var(--muted); padding: 6px 10px; min-height: 0; font-weight: 550; }
button.link:hover { color: var(--text); background: var(--hover); }
button:disabled { opacity: 0.55; cursor: default; filter: none; }
.wide { width: 100%; }
.actions { display: flex; gap: 8px; flex-wrap: wrap; margin-top: 16px; }
button:focus-visible, a:focus-visible, input:focus-visible, select:focus-visible, textarea:focus-visible, summary:focus-visible {
  outline: 3px solid var(--accent); outline-offset: 2px; }
.skip { position: absolute; left: -9999px; }
.skip:focus { left: 12px; top: 12px; z-index: 10; background: var(--card); padding: 8px 12px; border-radius: 8px; }
.badge { display: inline-flex; align-items: center; gap: 6px; padding: 2px 10px; border-radius: 999px; font-size: 0.85rem; font-weight: 600;
  background: var(--idle-bg); color: var(--muted); white-space: nowrap; }
.badge::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: currentColor; }
.badge.count::before { display: none; }
.state-cell { display: flex; flex-direction: column; align-items: flex-start; gap: 4px; }
.badge.ready { background: var(--ok-bg); color: var(--ok); }
.badge.starting, .badge.stopping, .badge.paused { background: var(--warn-bg); color: var(--warn); }
.badge.failed { background: var(--bad-bg); color: var(--bad); }
.headline { display: flex; align-items: center; gap: 12px; flex-wrap: wrap; margin-bottom: 12px; }
.headline h1 { margin: 0; }
dl.facts { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 12px 20px; margin: 16px 0 0; }
dl.facts div { min-width: 0; }
dl.facts dt { color: var(--muted); font-size: 0.82rem; text-transform: uppercase; letter-spacing: 0.04em; }
dl.facts dd { margin: 2px 0 0; font-weight: 600; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
code, pre, .mono { font-family: var(--mono); font-size: 0.85rem; }
.copy { display: flex; align-items: stretch; gap: 8px; margin-bottom: 10px; }
.copy code { flex: 1; min-width: 0; display: block; background: var(--code-bg); border: 1px solid var(--line); border-radius: 8px;
  padding: 9px 12px; overflow-x: auto; white-space: nowrap; }
ul.list { list-style: none; padding: 0; margin: 0; }
ul.list li { display: flex; align-items: center; gap: 12px; padding: 10px 0; border-top: 1px solid var(--line); min-width: 0; }
ul.list li:first-child { border-top: 0; }
ul.list .grow { flex: 1; min-width: 0; }
/* Form controls span their field elsewhere; in a list row they keep their own width beside the text. */
ul.list li > select { flex: 0 0 auto; width: auto; max-width: 45%; }
ul.list code { overflow-wrap: anywhere; min-width: 0; }
/* A profile's name, its description under it, then its options. */
ul.list.profiles li { display: block; }
ul.list.profiles li p { margin: 4px 0 8px 26px; }
#profiles { margin-top: 20px; }
ul.list .title { font-weight: 600; overflow-wrap: anywhere; }
ul.list .meta { color: var(--muted); font-size: 0.85rem; overflow-wrap: anywhere; }
.empty { color: var(--muted); font-style: italic; padding: 6px 0; }
.events li { align-items: baseline; }
.events time { color: var(--muted); font-size: 0.85rem; white-space: nowrap; font-variant-numeric: tabular-nums; min-width: 7.5em; }
.kind { font-weight: 600; }
.kind.failed { color: var(--bad); } .kind.ready { color: var(--ok); }
table { width: 100%; border-collapse: collapse; font-size: 0.93rem; }
th, td { text-align: left; padding: 10px 8px; border-top: 1px solid var(--line); vertical-align: middle; }
th { color: var(--muted); font-weight: 600; font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.04em; border-top: 0; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
td .reason { color: var(--bad); font-size: 0.85rem; display: block; max-width: 36ch; }
.table-actions { display: flex; gap: 6px; justify-content: flex-end; }
.toolbar { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; margin-bottom: 12px; }
.toolbar input { max-width: 320px; }
.notice { border-left: 4px solid var(--ok); padding: 10px 14px; background: var(--ok-bg); border-radius: 6px; }
.secret { border: 1px solid var(--warn); background: var(--warn-bg); border-radius: 8px; padding: 12px; margin: 12px 0; }
.flash { min-height: 1.5em; font-size: 0.9rem; margin: 8px 0 0; overflow-wrap: anywhere; }
.flash:empty { min-height: 0; margin: 0; }
.flash.bad { color: var(--bad); } .flash.ok { color: var(--ok); }
.unavailable { color: var(--muted); background: var(--code-bg); border-radius: 8px; padding: 12px; font-size: 0.92rem; }
.steps { list-style: none; padding: 0; margin: 20px 0; }
.steps li { display: flex; align-items: center; gap: 12px; padding: 8px 0; color: var(--muted); }
.steps li .dot { width: 14px; height: 14px; border-radius: 50%; border: 2px solid var(--line); flex: none; }
.steps li.active { color: var(--text); font-weight: 600; }
.steps li.active .dot { border-color: var(--accent); border-top-color: transparent; animation: spin 0.9s linear infinite; }
.steps li.done { color: var(--text); }
.steps li.done .dot { background: var(--ok); border-color: var(--ok); }
.steps li.failed { color: var(--bad); font-weight: 600; }
.steps li.failed .dot { background: var(--bad); border-color: var(--bad); }
.steps li .time { margin-left: auto; font-variant-numeric: tabular-nums; color: var(--muted); font-weight: 400; white-space: nowrap; }
.message { min-height: 1.5em; color: var(--muted); }
.message:empty { min-height: 0; margin: 0; }
.error { border-left: 4px solid var(--bad); padding: 12px 16px; background: var(--bad-bg); border-radius: 6px; margin: 16px 0; overflow-wrap: anywhere; }
pre.log { background: var(--code-bg); border: 1px solid var(--line); border-radius: 8px; padding: 12px; overflow: auto; max-height: 320px;
  white-space: pre-wrap; word-break: break-word; margin: 0 0 16px; }
.hidden { display: none !important; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
details summary { cursor: pointer; color: var(--muted); font-size: 0.9rem; margin-top: 8px; }
details pre { background: var(--code-bg); border: 1px solid var(--line); border-radius: 8px; padding: 10px; overflow-x: auto; font-size: 0.78rem; }
@keyframes spin { to { transform: rotate(360deg); } }
@media (prefers-reduced-motion: reduce) { .steps li.active .dot { animation: none; border-top-color: var(--accent); } }
@media (max-width: 820px) { .grid { grid-template-columns: minmax(0, 1fr); } dl.facts { grid-template-columns: repeat(2, minmax(0, 1fr)); } }
@media (max-width: 600px) {
  main, main.wide { padding: 16px 12px 32px; }
  .card { padding: 18px; } .card.narrow { padding: 24px 20px; }
  .topbar nav { width: 100%; justify-content: space-between; gap: 2px; }
  .topbar nav a { padding: 6px 6px; font-size: 0.92rem; }
  .state-cell { align-items: flex-end; }
  td .reason { text-align: right; }
  .who { display: none; }
  .actions { display: grid; grid-template-columns: 1fr 1fr; }
  main:has(.card.narrow) > .brand { margin-top: 4vh; }
  table.stack thead { display: none; }
  table.stack tr { display: block; border-top: 1px solid var(--line); padding: 10px 0; }
  table.stack td { display: flex; justify-content: space-between; gap: 12px; border: 0; padding: 3px 0; text-align: right; }
  table.stack td::before { content: attr(data-label); color: var(--muted); font-size: 0.85rem; text-align: left; }
  table.stack td.user { font-size: 1.05rem; } table.stack td.user::before { content: none; }
  .table-actions { justify-content: flex-end; }
}
`;
