// viralsup operations page. Plain JS, no dependencies. Polls the admin
// JSON endpoints every few seconds with If-None-Match (an unchanged answer
// is a 304 without a body) and re-renders what changed. The token lives in
// sessionStorage and travels only in the Authorization header. Data is
// always put into the page as text (textContent), never as HTML.
'use strict';

const POLL_MS = 2000;
const TOKEN_KEY = 'viralsup.admin_token';
const $ = (id) => document.getElementById(id);

const state = { status: 'all', offset: 0, limit: 25, jobId: null, timer: null, cache: new Map(), busy: false };

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}
const svg = (tag, attrs) => {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
};

// ---- formatting: every number with its unit --------------------------------
const n = (x) => (x === null || x === undefined ? '–' : Number(x).toLocaleString('en'));
function dur(s) {
  if (s === null || s === undefined) return '–';
  s = Math.round(Number(s));
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
  if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
  return Math.floor(s / 86400) + ' d ' + Math.floor((s % 86400) / 3600) + ' h';
}
const mib = (kb) => (kb === null || kb === undefined ? '–' : (kb / 1024).toFixed(1) + ' MiB');
const time = (t) => (t ? new Date(t).toLocaleString() : '–');
const clock = (t) => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

function toast(msg) {
  $('toast').textContent = msg;
  clearTimeout(toast.t);
  toast.t = setTimeout(() => ($('toast').textContent = ''), 5000);
}

// ---- HTTP ---------------------------------------------------------------------
class AuthError extends Error {}

async function api(path) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = { Authorization: 'Bearer ' + token, Accept: 'application/json' };
  const cached = state.cache.get(path);
  if (cached) headers['If-None-Match'] = cached.etag;
  const res = await fetch(path, { headers, cache: 'no-store', credentials: 'omit' });
  if (res.status === 304 && cached) return { data: cached.data, changed: false };
  if (res.status === 401 || res.status === 403) throw new AuthError((await res.json()).detail);
  const body = await res.json();
  if (!res.ok) throw new Error(typeof body.detail === 'string' ? body.detail : 'HTTP ' + res.status);
  const etag = res.headers.get('ETag');
  if (etag) state.cache.set(path, { etag, data: body.data });
  return { data: body.data, changed: true };
}

// The existing admin endpoints do the work (the same rules as the HTTP API
// and viralctl); the page only asks for a confirmation first.
async function act(path, what) {
  const ok = await confirmDialog(what);
  if (!ok) return;
  const res = await fetch(path, {
    method: 'POST', cache: 'no-store', credentials: 'omit',
    headers: { Authorization: 'Bearer ' + sessionStorage.getItem(TOKEN_KEY), 'Content-Type': 'application/json' },
    body: '{}',
  });
  let body = {};
  try { body = await res.json(); } catch (e) { /* empty answer */ }
  toast(res.ok ? (body.message || 'Done') : 'Refused (HTTP ' + res.status + '): ' + (typeof body.detail === 'string' ? body.detail : ''));
  refresh();
}

function confirmDialog(text) {
  const d = $('confirm');
  $('confirm-text').textContent = text;
  return new Promise((resolve) => {
    d.returnValue = '';
    d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true });
    d.showModal();
    $('confirm-ok').focus();
  });
}

// ---- rendering -----------------------------------------------------------------
function renderSummary(s) {
  const c = s.counts;
  const items = [
    ['Pending', c.pending], ['Processing', c.processing], ['Completed', c.completed],
    ['Failed', c.failed], ['Paused', c.paused], ['Queue depth', s.queue_depth],
    ['Completed, last 60 min', s.last_hour.completed], ['Failed, last 60 min', s.last_hour.failed],
  ];
  $('counts').replaceChildren(...items.map(([k, v]) =>
    el('div', { 'data-count': k }, el('dt', { text: k + ' (jobs)' }), el('dd', { text: n(v) }))));

  const b = s.batch;
  if (!b) {
    const lb = s.last_batch;
    $('batch').replaceChildren(el('p', { class: 'muted', text: 'No open batch.' + (lb ? ' Last one finished ' + time(lb.finished_at) + ': ' + n(lb.completed_jobs) + ' completed, ' + n(lb.failed_jobs) + ' failed of ' + n(lb.total_jobs) + ' jobs.' : '') }));
  } else {
    const done = b.completed_jobs + b.failed_jobs;
    $('batch').replaceChildren(
      el('label', { for: 'batch-progress', text: n(done) + ' of ' + n(b.total_jobs) + ' jobs done (' + b.progress_pct + ' %)' }),
      el('progress', { id: 'batch-progress', max: Math.max(b.total_jobs, 1), value: done }),
      el('dl', { class: 'kv' },
        el('dt', { text: 'Completed / failed' }), el('dd', { text: n(b.completed_jobs) + ' / ' + n(b.failed_jobs) + ' jobs' }),
        el('dt', { text: 'Running for' }), el('dd', { text: dur(b.elapsed_s) }),
        el('dt', { text: 'ETA' }), el('dd', { text: b.eta_s === null ? 'after the first job ends' : dur(b.eta_s) + ' (at the batch\u2019s rate so far)' }),
        el('dt', { text: 'Triggered by' }), el('dd', { text: b.trigger_source + (b.requested_by ? ' (' + b.requested_by + ')' : '') }),
        el('dt', { text: 'Started' }), el('dd', { text: time(b.started_at) }),
        el('dt', { text: 'Batch id' }), el('dd', { text: b.id })));
  }
  renderChart(s.series);
  const g = s.gateway;
  $('gateway').textContent = 'Gateway (since its start): database ' + (g.database ? 'up' : 'DOWN') +
    ', scheduler ' + (g.scheduler ? 'answering' : 'NOT answering') + '; actor exits ' + n(g.actor_exits_total) +
    ', hangs ' + n(g.actor_hangs_total) + '; 503s for scheduler unavailable ' + n(g.scheduler_unavailable_total) +
    ', for database unavailable ' + n(g.database_unavailable_total) + '; failed-auth 429s ' + n(g.auth_throttled_total) + '.';
}

function renderChart(series) {
  const W = 600, H = 160, L = 34, R = 8, T = 8, B = 22;
  const maxBar = Math.max(1, ...series.map((p) => p.completed + p.failed));
  const maxDepth = Math.max(1, ...series.map((p) => p.depth));
  const top = Math.max(maxBar, maxDepth);
  const x = (i) => L + (i * (W - L - R)) / series.length;
  const y = (v) => T + (H - T - B) * (1 - v / top);
  const bw = Math.max(1, (W - L - R) / series.length - 1);
  const s = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': 'chart-title' });
  const title = svg('title', { id: 'chart-title' });
  title.textContent = 'Jobs completed and failed per minute, and queue depth, over the last 60 minutes';
  s.append(title);
  for (const v of [0, top / 2, top]) {
    s.append(svg('line', { class: 'grid', x1: L, x2: W - R, y1: y(v), y2: y(v) }));
    const t = svg('text', { x: L - 4, y: y(v) + 4, 'text-anchor': 'end' });
    t.textContent = Math.round(v);
    s.append(t);
  }
  series.forEach((p, i) => {
    if (p.completed) s.append(svg('rect', { class: 'done', x: x(i), y: y(p.completed), width: bw, height: y(0) - y(p.completed) }));
    if (p.failed) s.append(svg('rect', { class: 'fail', x: x(i), y: y(p.completed + p.failed), width: bw, height: y(0) - y(p.failed) }));
  });
  s.append(svg('polyline', { class: 'depth', points: series.map((p, i) => `${x(i) + bw / 2},${y(p.depth)}`).join(' ') }));
  if (series.length) {
    for (const [i, anchor] of [[0, 'start'], [series.length - 1, 'end']]) {
      const t = svg('text', { x: anchor === 'start' ? L : W - R, y: H - 6, 'text-anchor': anchor });
      t.textContent = clock(series[i].t);
      s.append(t);
    }
  }
  const legend = el('ul', { class: 'legend' },
    el('li', {}, el('span', { class: 'sw-done' }), 'completed (jobs/min)'),
    el('li', {}, el('span', { class: 'sw-fail' }), 'failed (jobs/min)'),
    el('li', {}, el('span', { class: 'sw-depth' }), 'queue depth (jobs pending + processing, at the minute\u2019s end)'));
  $('chart').replaceChildren(s, legend);
  const last = series[series.length - 1];
  $('trend-text').textContent = last ? 'Y axis: jobs. This minute: ' + n(last.completed) + ' completed, ' + n(last.failed) + ' failed; depth ' + n(last.depth) + ' jobs.' : '';
}

function renderActors(st) {
  const rows = st.children.map((c) => {
    const state = c.state + (c.ready ? '' : c.state === 'ready' ? ' (not answering)' : '');
    const le = c.last_exit;
    const exit = le ? (le.reason || (le.signal !== undefined ? 'signal ' + le.signal : 'exit ' + le.code)) + (le.at ? ' at ' + time(le.at * 1000) : '') : '–';
    const cells = [
      ['Actor', c.name], ['State', state], ['PID', c.pid === null ? '–' : c.pid],
      ['Uptime', c.pid ? dur(c.uptime_s) : '–'],
      ['Restarts (total)', n(c.restarts_total) + ' (' + n(c.restarts_in_window) + ' in window)'],
      ['Hangs (total)', n(c.hangs_total)], ['Last exit', exit], ['RSS', mib(c.rss_kb)],
    ];
    return el('tr', { 'data-actor': c.name }, cells.map(([k, v], i) =>
      el('td', { 'data-label': k, class: i === 1 ? (c.ready ? 'state-ready' : 'state-bad') : null, text: String(v) })));
  });
  $('actors').tBodies[0].replaceChildren(...rows);
  renderUpstream(st.upstream);
  $('actors-error').textContent = '';
  const sc = st.scheduler;
  $('sched').textContent = sc
    ? 'Scheduler: claiming ' + (sc.paused ? 'PAUSED' : 'running') + ' (' + sc.processing + ' processing), ' +
      n(sc.jobs_inflight) + ' of ' + n(sc.concurrency) + ' job slots in use; workers: ' +
      sc.workers.map((w) => w.name + ' ' + n(w.inflight) + '/' + n(w.slots) + ' in flight' + (w.dead ? ' (dead)' : '') + (w.slow ? ' (slow)' : '')).join(', ') + '.'
    : 'Scheduler: not answering (' + (st.scheduler_error || 'unknown') + ').';
  document.querySelector('[data-action="pause"]').disabled = !sc || sc.paused;
  document.querySelector('[data-action="resume"]').disabled = !sc || !sc.paused;
}

// Rates from the page's own samples of the counters (one per poll, the
// last 60 s): the counters are totals since each actor started; a drop
// (an actor restarted) has no rate until the window is past it.
const RATE_WINDOW_MS = 60000;
const upstreamSamples = new Map();
function renderUpstream(list) {
  const now = Date.now();
  const rows = (list || []).map((u) => {
    const key = u.kind + ':' + u.name;
    const samples = (upstreamSamples.get(key) || []).filter((x) => now - x.t <= RATE_WINDOW_MS);
    samples.push({ t: now, requests: u.requests, bad: u.throttled + u.errors });
    upstreamSamples.set(key, samples);
    const first = samples[0], span = (now - first.t) / 60000;
    const ok = span > 0 && samples.every((x, i) => i === 0 || x.requests >= samples[i - 1].requests);
    const rate = (v) => (ok ? (v / span).toFixed(1) + ' /min' : '–');
    const cells = [
      ['Upstream', (u.kind === 'model' ? 'model ' : 'provider ') + u.name + ' (' + n(u.actors) + ' actor' + (u.actors === 1 ? '' : 's') + ')'],
      ['Requests', n(u.requests)], ['Rate', rate(u.requests - first.requests)],
      ['429s', n(u.throttled)], ['Errors', n(u.errors)], ['429s + errors', rate(u.throttled + u.errors - first.bad)],
    ];
    return el('tr', { 'data-upstream': key }, cells.map(([k, v]) => el('td', { 'data-label': k, text: String(v) })));
  });
  $('upstream').tBodies[0].replaceChildren(...(rows.length ? rows :
    [el('tr', {}, el('td', { colspan: 6, class: 'muted', text: 'No provider or model requests counted (the fixtures provider and the rules engine make none).' }))]));
}

function jobMeta(j) {
  return 'attempt ' + n(j.attempts) + ' of ' + n(j.max_attempts) + (j.rescues ? ', rescues ' + n(j.rescues) : '') +
    (j.crash_suspect ? ', crash suspect' : '') + ' · submitted ' + time(j.submitted_at);
}

function renderJobs(d) {
  const items = d.jobs.map((j) => el('li', {},
    el('button', { type: 'button', class: 'job', 'data-job': j.id, 'aria-label': 'Open job ' + j.primary_username + ', ' + j.status, onclick: () => openJob(j.id) },
      el('span', {}, el('span', { class: 'who', text: '@' + j.primary_username }), ' ', el('span', { class: 'badge ' + j.status, text: j.status })),
      el('span', { class: 'meta', text: j.progress_pct + ' %' }),
      el('progress', { max: 100, value: j.progress_pct, 'aria-label': 'Progress of @' + j.primary_username + ' (percent)' }),
      el('span', { class: 'step', text: j.status === 'failed' && j.error ? j.error : (j.current_step || '') }),
      el('span', { class: 'meta', text: jobMeta(j) }))));
  $('jobs').replaceChildren(...(items.length ? items : [el('li', { class: 'muted', text: 'No jobs.' })]));
  const last = Math.min(d.offset + d.limit, d.total);
  $('page').textContent = d.total ? (d.offset + 1) + '–' + last + ' of ' + n(d.total) + ' jobs' : '0 jobs';
  $('prev').disabled = d.offset === 0;
  $('next').disabled = last >= d.total;
}

function renderDetail(d) {
  const j = d.job;
  const body = [];
  const acts = el('div', { class: 'actions' });
  if (['pending', 'paused', 'processing'].includes(j.status))
    acts.append(el('button', { type: 'button', class: 'danger', 'data-action': 'cancel', onclick: () => act('/api/viral-ideas/queue/' + j.id + '/cancel', 'Cancel the job for @' + j.primary_username + '? It fails with "cancelled by an administrator".') }, 'Cancel job…'));
  if (j.status === 'failed')
    acts.append(el('button', { type: 'button', 'data-action': 'retry', onclick: () => act('/api/viral-ideas/queue/' + j.id + '/retry', 'Retry the job for @' + j.primary_username + '? It goes back to pending.') }, 'Retry job…'));
  if (j.status === 'pending' || j.status === 'paused')
    acts.append(el('button', { type: 'button', 'data-action': 'process', onclick: () => act('/api/viral-ideas/queue/' + j.id + '/process', 'Run the job for @' + j.primary_username + ' now, out of turn?') }, 'Process now…'));
  body.push(el('dl', { class: 'kv' },
    el('dt', { text: 'Account' }), el('dd', { text: '@' + j.primary_username }),
    el('dt', { text: 'Status' }), el('dd', { id: 'detail-status', class: 'badge ' + j.status, text: j.status }),
    el('dt', { text: 'Progress' }), el('dd', { text: j.progress_pct + ' % — ' + (j.current_step || '') }),
    el('dt', { text: 'Attempts' }), el('dd', { text: n(j.attempts) + ' of ' + n(j.max_attempts) + ' (rescues ' + n(j.rescues) + ')' }),
    el('dt', { text: 'Crash suspect' }), el('dd', { text: j.crash_suspect ? 'yes' : 'no' }),
    el('dt', { text: 'Last error' }), el('dd', { text: j.last_error || j.error_message || '–' }),
    el('dt', { text: 'Submitted' }), el('dd', { text: time(j.submitted_at) }),
    el('dt', { text: 'Completed' }), el('dd', { text: time(j.completed_at) }),
    el('dt', { text: 'Job id' }), el('dd', { text: j.id })), acts);
  if (d.competitors.length)
    body.push(el('h3', { text: 'Competitors' }), el('ul', {}, d.competitors.map((c) => el('li', { text: '@' + c.username + ': ' + c.status + (c.error ? ' — ' + c.error : '') }))));
  const r = d.result;
  if (r) {
    body.push(el('h3', { text: 'Results (run ' + r.analysis_run + ', ' + r.status + ', ' + n(r.reels_analyzed) + ' reels analysed)' }));
    const e = r.engine;
    if (e) body.push(el('p', { class: 'muted', 'data-engine': e.used || '', text: 'Engine: ' + (e.used || '?') +
      (e.model ? ', model ' + e.model : '') + (e.engine_version ? ', version ' + e.engine_version : '') +
      (e.prompt_tokens !== undefined ? ', ' + n(e.prompt_tokens) + ' prompt + ' + n(e.completion_tokens) + ' completion tokens' : '') +
      (e.calls !== undefined ? ', ' + n(e.calls) + ' calls (' + n(e.failed_calls) + ' failed)' : '') }));
    body.push(el('h4', { text: 'Hooks (first five)' }), el('ol', { class: 'hooks' }, r.hooks.map((h) =>
      el('li', { 'data-hook': '', text: (h.hook_text || JSON.stringify(h)) + (h.effectiveness_score !== undefined ? ' (score ' + h.effectiveness_score + ')' : '') }))));
    if (r.scripts.length)
      body.push(el('h4', { text: 'Scripts' }), el('ul', { class: 'scripts' }, r.scripts.map((s) =>
        el('li', {}, el('strong', { text: s.title }), s.duration_s ? ' (' + s.duration_s + ' s)' : '', el('br'), s.hook || '', el('br'), el('span', { class: 'muted', text: s.content })))));
    if (r.top_reels.length)
      body.push(el('h4', { text: 'Top outlier reels' }), el('div', { class: 'scroll-y' }, el('table', {},
        el('thead', {}, el('tr', {}, ['Reel', 'Account', 'Outlier score (× account median views)', 'Views'].map((h) => el('th', { scope: 'col', text: h })))),
        el('tbody', {}, r.top_reels.map((x) => el('tr', {}, el('td', { text: x.content_id }), el('td', { text: '@' + x.username }), el('td', { text: Number(x.outlier_score).toFixed(2) }), el('td', { text: n(x.views) })))))));
  }
  if (d.errors.length)
    body.push(el('h3', { text: 'Errors' }), el('ul', {}, d.errors.map((e) => el('li', { text: time(e.at) + ' · attempt ' + n(e.attempt) + ' → ' + e.to_status + ': ' + (e.reason || '') }))));
  body.push(el('h3', { text: 'History (job_events, oldest first)' }), el('ol', { class: 'events' }, d.events.map((e) =>
    el('li', { text: time(e.at) + ' · ' + (e.from_status || '∅') + ' → ' + e.to_status + ' · ' + (e.reason || '') + (e.actor ? ' (' + e.actor + ')' : '') }))));
  $('detail-h').textContent = 'Job @' + j.primary_username;
  $('detail-body').replaceChildren(...body);
  $('detail-body').dataset.job = j.id;
}

// ---- polling -------------------------------------------------------------------
function jobsPath() {
  const q = new URLSearchParams({ limit: state.limit, offset: state.offset });
  if (state.status !== 'all') q.set('status', state.status);
  return '/admin/api/jobs?' + q;
}

async function refresh() {
  if (state.busy) { state.again = true; return; }
  state.busy = true;
  state.again = false;
  clearTimeout(state.timer);
  try {
    const [s, j] = await Promise.all([api('/admin/api/summary'), api(jobsPath())]);
    if (s.changed) renderSummary(s.data);
    if (j.changed) renderJobs(j.data);
    try {
      const a = await api('/admin/api/actors');
      if (a.changed) renderActors(a.data);
    } catch (e) {
      if (e instanceof AuthError) throw e;
      $('actors-error').textContent = 'Actors: ' + e.message;
    }
    if (state.jobId) {
      const d = await api('/admin/api/jobs/' + state.jobId);
      if (d.changed || $('detail-body').dataset.job !== state.jobId) renderDetail(d.data);
    }
    $('conn').textContent = 'Updated ' + new Date().toLocaleTimeString() + ' (every ' + POLL_MS / 1000 + ' s)';
  } catch (e) {
    if (e instanceof AuthError) { logout(e.message); return; }
    $('conn').textContent = 'Update failed: ' + e.message + ' (retrying)';
  } finally {
    state.busy = false;
  }
  // An action or a click while this round ran: go again now, not in 2 s.
  state.timer = setTimeout(refresh, state.again ? 0 : document.hidden ? POLL_MS * 5 : POLL_MS);
}

function openJob(id) {
  state.jobId = id;
  $('detail').hidden = false;
  $('detail-body').replaceChildren(el('p', { class: 'muted', text: 'Loading…' }));
  refresh().then(() => $('detail').focus());
}

function start() {
  $('login').hidden = true;
  $('app').hidden = false;
  $('logout').hidden = false;
  state.cache.clear();
  refresh();
}

function logout(why) {
  sessionStorage.removeItem(TOKEN_KEY);
  clearTimeout(state.timer);
  $('app').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = why || '';
  $('conn').textContent = 'Not connected';
  $('token').focus();
}

document.addEventListener('DOMContentLoaded', () => {
  $('login-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
    $('token').value = '';
    $('login-error').textContent = '';
    start();
  });
  $('logout').addEventListener('click', () => logout());
  $('status').addEventListener('change', () => { state.status = $('status').value; state.offset = 0; refresh(); });
  $('prev').addEventListener('click', () => { state.offset = Math.max(0, state.offset - state.limit); refresh(); });
  $('next').addEventListener('click', () => { state.offset += state.limit; refresh(); });
  document.querySelector('[data-action="process-pending"]').addEventListener('click', () =>
    act('/api/viral-ideas/process-pending', 'Start processing every pending job now (a batch)?'));
  document.querySelector('[data-action="pause"]').addEventListener('click', () =>
    act('/admin/api/claiming/pause', 'Pause claiming? Jobs in flight finish; no new job starts until you resume.'));
  document.querySelector('[data-action="resume"]').addEventListener('click', () =>
    act('/admin/api/claiming/resume', 'Resume claiming jobs?'));
  document.addEventListener('visibilitychange', () => { if (!document.hidden) refresh(); });
  if (sessionStorage.getItem(TOKEN_KEY)) start(); else $('token').focus();
});
