/** The page's HTML shell and stylesheet: no external assets, the script is /ui/app/app.js. */

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kpath</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/style.css">
</head>
<body>
<header>
  <strong>kpath</strong>
  <nav><a href="/ui/" data-view="cluster">Cluster</a> <a href="/ui/trace" data-view="trace">Trace</a></nav>
  <span id="mode"></span>
  <span id="status">connecting</span>
</header>
<main id="main"><p>Loading...</p></main>
<script type="module" src="/ui/app/app.js"></script>
</body>
</html>
`;

export const PAGE_CSS = `
:root { --fg: #1d232a; --muted: #687483; --line: #d6dbe1; --ok: #1f7a3a; --bad: #b3261e; --accent: #1f5fa8; --bg2: #f4f6f8; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: var(--fg); }
header { display: flex; gap: 1.5em; align-items: center; padding: .5em 1em; border-bottom: 1px solid var(--line); background: var(--bg2); }
header nav a { margin-right: 1em; color: var(--accent); text-decoration: none; }
header nav a.active { font-weight: bold; text-decoration: underline; }
#status { margin-left: auto; color: var(--muted); }
main { padding: 1em; }
h2 { font-size: 1.1em; margin: 1.2em 0 .5em; }
.nodes { display: flex; flex-wrap: wrap; gap: 1em; }
.node { border: 1px solid var(--line); border-radius: 6px; padding: .5em .75em; min-width: 16em; background: #fff; }
.node h3 { margin: 0 0 .3em; font-size: 1em; }
.muted { color: var(--muted); }
.pod { display: flex; gap: .5em; align-items: baseline; padding: .1em 0; }
.dot { display: inline-block; width: .7em; height: .7em; border-radius: 50%; background: var(--bad); }
.ready .dot, .dot.ready { background: var(--ok); }
table { border-collapse: collapse; width: 100%; margin-bottom: .5em; }
th, td { text-align: left; padding: .2em .5em; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--bg2); font-weight: 600; }
code, pre, .mono { font-family: ui-monospace, monospace; font-size: 12.5px; }
pre { margin: .2em 0; white-space: pre-wrap; }
.ep { display: inline-block; margin: 0 .6em .1em 0; }
.ep.notready { color: var(--bad); text-decoration: line-through; }
form.trace { display: flex; flex-wrap: wrap; gap: .6em; align-items: end; }
form.trace label { display: flex; flex-direction: column; font-size: .9em; color: var(--muted); }
form.trace input, form.trace select { font: inherit; padding: .2em .3em; min-width: 14em; }
.hop { border: 1px solid var(--line); border-radius: 6px; margin: .6em 0; padding: .5em .75em; }
.hop h4 { margin: 0 0 .3em; }
.stage { margin: .15em 0 .15em 1em; }
.chain { margin-left: 1em; color: var(--accent); }
.rule { margin-left: 2em; background: var(--bg2); padding: .1em .4em; }
.decision { font-weight: 600; }
.arrow { color: var(--muted); margin: .3em 0; }
.error { color: var(--bad); font-weight: 600; }
#diagram { display: block; max-width: 100%; height: auto; }
.d-node { fill: var(--bg2); stroke: var(--line); }
.d-svc { fill: #e8f0fb; stroke: var(--accent); }
.d-pod { fill: #fff; stroke: var(--bad); }
.d-pod.ready { stroke: var(--ok); }
.d-title { font: 600 12px system-ui, sans-serif; fill: var(--fg); }
.d-text { font: 11px ui-monospace, monospace; fill: var(--fg); }
.d-edge { fill: none; stroke: var(--accent); stroke-opacity: .55; stroke-width: 1.5; }
.d-edge.notready { stroke: var(--bad); stroke-dasharray: 4 3; }
`;
