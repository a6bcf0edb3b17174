/** The gateway's one stylesheet, served at /_berth/assets/berth.css; no external fonts or CDNs. */
export const stylesheet = `
:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --card: #ffffff; --text: #1c2430; --muted: #5b6676; --line: #dde2e8;
  --accent: #1f6feb; --accent-text: #ffffff; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e;
  --code-bg: #f0f2f5; --radius: 10px;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --card: #161b22; --text: #e6edf3; --muted: #8d96a0; --line: #30363d;
    --accent: #2f81f7; --ok: #3fb950; --warn: #d29922; --bad: #f85149; --code-bg: #0b0f14; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); font-size: 16px; line-height: 1.5; }
main { max-width: 720px; margin: 0 auto; padding: 48px 20px; }
.brand { display: flex; align-items: center; gap: 10px; font-weight: 600; color: var(--muted); margin-bottom: 24px; }
.brand svg { width: 28px; height: 28px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: var(--radius); padding: 28px; }
h1 { font-size: 1.5rem; margin: 0 0 8px; }
p { margin: 0 0 16px; }
.muted { color: var(--muted); }
label { display: block; font-weight: 600; margin-bottom: 6px; }
input[type=text], input[type=password] { width: 100%; padding: 10px 12px; border: 1px solid var(--line); border-radius: 8px;
  background: var(--bg); color: var(--text); font-size: 1rem; }
button, .button { display: inline-flex; align-items: center; gap: 6px; padding: 10px 18px; border-radius: 8px; border: 1px solid transparent;
  background: var(--accent); color: var(--accent-text); font-size: 1rem; font-weight: 600; cursor: pointer; text-decoration: none; }
button.secondary { background: transparent; color: var(--text); border-color: var(--line); }
button:focus-visible, a:focus-visible, input:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.steps { list-style: none; padding: 0; margin: 20px 0; }
.steps li { display: flex; align-items: center; gap: 12px; padding: 8px 0; color: var(--muted); }
.steps li .dot { width: 12px; height: 12px; border-radius: 50%; border: 2px solid var(--line); flex: none; }
.steps li.active { color: var(--text); font-weight: 600; }
.steps li.active .dot { border-color: var(--accent); border-top-color: transparent; animation: spin 0.9s linear infinite; }
.steps li.done { color: var(--text); }
.steps li.done .dot { background: var(--ok); border-color: var(--ok); }
.steps li.failed .dot { background: var(--bad); border-color: var(--bad); }
.steps li .time { margin-left: auto; font-variant-numeric: tabular-nums; color: var(--muted); font-weight: 400; }
.message { min-height: 1.5em; }
.error { border-left: 4px solid var(--bad); padding: 12px 16px; background: var(--code-bg); border-radius: 6px; margin: 16px 0; }
pre.log { background: var(--code-bg); border: 1px solid var(--line); border-radius: 8px; padding: 12px; overflow: auto; max-height: 320px;
  font-size: 0.85rem; white-space: pre-wrap; word-break: break-word; }
.hidden { display: none !important; }
@keyframes spin { to { transform: rotate(360deg); } }
@media (prefers-reduced-motion: reduce) { .steps li.active .dot { animation: none; border-top-color: var(--accent); } }
@media (max-width: 480px) { main { padding: 24px 12px; } .card { padding: 20px; } }
`;
