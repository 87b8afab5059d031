/**
 * The operator page's stylesheet, served as /ops/static/operator.css: a file of its own because the page's
 * Content-Security-Policy (default-src 'self') forbids inline styles as it forbids inline scripts. There is no
 * script at all: every page is rendered on the server.
 */
export const OPERATOR_STYLESHEET = `
:root { color-scheme: light; --ink: #1d2733; --muted: #5b6b7b; --line: #d6dde5; --band: #f3f6f9; --accent: #0b5cad;
        --ok: #1d7a3a; --held: #9a6400; --bad: #b3261e; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: #fff; }
header { display: flex; align-items: center; gap: 24px; padding: 10px 24px; background: #132235; color: #fff; }
header .brand { font-weight: 700; letter-spacing: .02em; }
header nav a { color: #cfe0f3; text-decoration: none; margin-right: 16px; }
header nav a.current { color: #fff; border-bottom: 2px solid #7fb4ea; }
header form { margin-left: auto; }
main { padding: 16px 24px 40px; max-width: 1400px; }
h1 { font-size: 20px; margin: 8px 0 12px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 12px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--band); font-weight: 600; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
a { color: var(--accent); }
.status { display: inline-block; padding: 1px 7px; border-radius: 9px; font-size: 12px; font-weight: 600; background: var(--band); }
.status-ACSC, .status-delivered { color: #fff; background: var(--ok); }
.status-ACSP, .status-pending, .status-in_flight { color: #fff; background: var(--held); }
.status-RJCT, .status-dead { color: #fff; background: var(--bad); }
.muted { color: var(--muted); }
.error { color: var(--bad); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0 0 8px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
pre.xml { background: var(--band); border: 1px solid var(--line); padding: 10px; overflow: auto; max-height: 420px; font-size: 12px; }
form.filters { display: flex; flex-wrap: wrap; gap: 8px; align-items: end; margin-bottom: 8px; }
form.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); }
input, select, button { font: inherit; padding: 4px 6px; }
button { cursor: pointer; }
.login { max-width: 380px; margin: 80px auto; padding: 24px; border: 1px solid var(--line); border-radius: 8px; }
.login label { display: block; margin: 12px 0 4px; }
.login input { width: 100%; }
.login button { margin-top: 16px; }
.pager { margin: 8px 0; }
`;
