#!/usr/bin/env node
// Drives the operations page in Debian's headless chromium over the
// DevTools protocol (--remote-debugging-pipe: JSON messages ending in NUL
// on fds 3 and 4), with Node's built-in modules only. Run by
// tests/unit/test_admin_page.c against a real stack:
//
//   node tests/browser/admin_page.js <json spec>
//
// spec, the overview (default): {url, token, counts: {pending, processing,
//   completed, failed}, hooks_job, cancel_job, screenshot (path or null)}
// spec, the operator's story ("Done when" of issue 15): {url, token,
//   story: true, failed_job}: the batch progress moves, the failed job's
//   history, a retry, and the job completing, all without a reload.
// Prints one JSON line {ok, ...facts} and exits 0, or prints the reason
// and exits 1. Everything is bounded: the whole run gives up after 45 s.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const spec = JSON.parse(process.argv[2]);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const deadline = setTimeout(() => fail('gave up after 45 s'), 45000);

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'viralsup-chromium-'));
const chrome = spawn(CHROMIUM, [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-extensions', '--hide-scrollbars', '--mute-audio',
  '--user-data-dir=' + profile, '--remote-debugging-pipe', 'about:blank',
], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
let chromeErr = '';
chrome.stderr.on('data', (d) => { chromeErr = (chromeErr + d).slice(-4000); });
chrome.on('exit', (code, sig) => { if (!finished) fail('chromium exited (' + (code ?? sig) + '): ' + chromeErr); });

let finished = false;
function cleanup() {
  finished = true;
  clearTimeout(deadline);
  try { chrome.kill('SIGKILL'); } catch (e) { /* gone */ }
  try { fs.rmSync(profile, { recursive: true, force: true }); } catch (e) { /* best effort */ }
}
function fail(why) {
  if (finished) return;
  cleanup();
  process.stdout.write(JSON.stringify({ ok: false, why: String(why), console: consoleErrors }) + '\n');
  process.exit(1);
}

// ---- the protocol over the pipe ----------------------------------------------
const toChrome = chrome.stdio[3], fromChrome = chrome.stdio[4];
let nextId = 1, inbuf = Buffer.alloc(0);
const pending = new Map(), listeners = [];
fromChrome.on('data', (chunk) => {
  inbuf = Buffer.concat([inbuf, chunk]);
  let z;
  while ((z = inbuf.indexOf(0)) >= 0) {
    const msg = JSON.parse(inbuf.subarray(0, z).toString('utf8'));
    inbuf = inbuf.subarray(z + 1);
    if (msg.id && pending.has(msg.id)) {
      const { resolve, reject, method } = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) reject(new Error(method + ': ' + msg.error.message));
      else resolve(msg.result);
    } else if (msg.method) {
      for (const l of listeners) l(msg);
    }
  }
});
function send(method, params = {}, sessionId) {
  const id = nextId++;
  const m = { id, method, params };
  if (sessionId) m.sessionId = sessionId;
  toChrome.write(JSON.stringify(m) + '\0');
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject, method }));
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- facts the page must show ----------------------------------------------------
const consoleErrors = [];
const requestUrls = [];
let session;
const page = (method, params) => send(method, params, session);

async function evaluate(expr) {
  const r = await page('Runtime.evaluate', { expression: expr, returnByValue: true, awaitPromise: true });
  if (r.exceptionDetails) throw new Error('page script failed: ' + expr + ': ' + JSON.stringify(r.exceptionDetails));
  return r.result.value;
}
// Resolves once the page has laid out and painted twice since now (after a
// viewport change), instead of guessing a delay.
function nextFrames() {
  return evaluate('new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))');
}
// Polls expr (every 50 ms) until it is truthy; fails after ms with what.
async function waitFor(expr, ms, what) {
  const t0 = Date.now();
  let v;
  while (Date.now() - t0 < ms) {
    v = await evaluate(expr);
    if (v) return v;
    await sleep(50);
  }
  throw new Error('timed out after ' + ms + ' ms waiting for ' + what + (v !== undefined ? ' (last: ' + JSON.stringify(v) + ')' : ''));
}
const counts = () => evaluate(`Object.fromEntries([...document.querySelectorAll('#counts [data-count]')].map(d => [d.dataset.count, d.querySelector('dd').textContent]))`);
const noHorizontalScroll = () => evaluate('document.documentElement.scrollWidth <= window.innerWidth');

async function pressEnter() {
  await page('Input.dispatchKeyEvent', { type: 'keyDown', key: 'Enter', code: 'Enter', windowsVirtualKeyCode: 13, text: '\r' });
  await page('Input.dispatchKeyEvent', { type: 'keyUp', key: 'Enter', code: 'Enter', windowsVirtualKeyCode: 13 });
}

async function setWidth(width, height) {
  await page('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: width < 600 });
}

async function main() {
  const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
  ({ sessionId: session } = await send('Target.attachToTarget', { targetId, flatten: true }));
  listeners.push((m) => {
    if (m.sessionId !== session) return;
    if (m.method === 'Runtime.consoleAPICalled' && (m.params.type === 'error' || m.params.type === 'assert'))
      consoleErrors.push(m.params.args.map((a) => a.value ?? a.description).join(' '));
    else if (m.method === 'Runtime.exceptionThrown')
      consoleErrors.push(m.params.exceptionDetails.exception?.description || m.params.exceptionDetails.text);
    else if (m.method === 'Log.entryAdded' && m.params.entry.level === 'error')
      consoleErrors.push(m.params.entry.text + ' ' + (m.params.entry.url || ''));
    else if (m.method === 'Network.requestWillBeSent')
      requestUrls.push(m.params.request.url);
  });
  await Promise.all(['Runtime.enable', 'Log.enable', 'Page.enable', 'Network.enable'].map((x) => page(x)));
  await setWidth(1280, 900);

  const loaded = new Promise((r) => listeners.push((m) => m.method === 'Page.loadEventFired' && m.sessionId === session && r()));
  await page('Page.navigate', { url: spec.url + '/admin/' });
  await loaded;
  await waitFor(`document.activeElement && document.activeElement.id === 'token'`, 5000, 'the token field to have the focus');
  // Every form control has a label.
  const unlabelled = await evaluate(`[...document.querySelectorAll('input, select')].filter(e => !e.labels.length && !e.getAttribute('aria-label')).map(e => e.id)`);
  if (unlabelled.length) throw new Error('form controls without a label: ' + unlabelled);

  // The token typed into the form, as an operator would.
  await page('Input.insertText', { text: spec.token });
  await pressEnter();
  await evaluate('window.__sameDocument = true');

  const facts = spec.story ? await story() : await overview();
  if (!(await evaluate('window.__sameDocument === true'))) throw new Error('the page reloaded');
  const leaked = requestUrls.filter((u) => u.includes(spec.token));
  if (leaked.length) throw new Error('the token appeared in a URL: ' + leaked[0]);
  if (consoleErrors.length) throw new Error('console errors: ' + consoleErrors.join(' | '));

  cleanup();
  process.stdout.write(JSON.stringify({ ok: true, ...facts, requests: requestUrls.length }) + '\n');
  process.exit(0);
}

// The "Done when" of issue 15: with a batch running, the operator sees its
// progress move, opens a failed job's history, retries it (confirmation,
// keyboard) and watches it complete, every step by the page's own polling.
async function story() {
  const done = `(() => { const p = document.getElementById('batch-progress'); return p ? Number(p.value) : null; })()`;
  const first = (await waitFor(`(() => { const v = ${done}; return v === null ? null : { v }; })()`, 10000, 'the open batch\u2019s progress')
    .catch(async (e) => { throw new Error(e.message + '; batch shows ' + await evaluate(`document.getElementById('batch').textContent`)); })).v;
  const moved = await waitFor(`(() => { const v = ${done}; return v !== null && v > ${first} ? v : null; })()`, 15000, 'the batch progress to move past ' + first);
  const job = spec.failed_job;
  await waitFor(`document.querySelector('[data-job="${job}"]')`, 5000, 'the failed job in the list');
  const listed = await evaluate(`document.querySelector('[data-job="${job}"]').textContent`);
  if (!listed.includes('failed')) throw new Error('the failed job is not listed as failed: ' + listed);
  await evaluate(`document.querySelector('[data-job="${job}"]').focus()`);
  await pressEnter();
  await waitFor(`document.getElementById('detail-body').dataset.job === '${job}' &&
    document.getElementById('detail-status').textContent === 'failed' &&
    document.querySelector('#detail-body [data-action="retry"]')`, 5000, 'the failed job\u2019s detail with a Retry button');
  // Its history is job_events: the transition to failed, with the reason.
  const history = await evaluate(`[...document.querySelectorAll('#detail-body ol.events li')].map(e => e.textContent)`);
  if (!history.some((h) => h.includes('processing \u2192 failed')))
    throw new Error('no "processing \u2192 failed" in the history: ' + JSON.stringify(history));
  const errors = await evaluate(`[...document.querySelectorAll('#detail-body h3')].some(h => h.textContent === 'Errors')`);
  await evaluate(`document.querySelector('#detail-body [data-action="retry"]').focus()`);
  await pressEnter();
  await waitFor(`document.getElementById('confirm').open`, 2000, 'the confirmation dialog');
  await waitFor(`document.activeElement && document.activeElement.id === 'confirm-ok'`, 2000, 'the focus on Confirm');
  // Every status the detail shows from now on, as the page renders it.
  await evaluate(`window.__seen = []; new MutationObserver(() => { const s = document.getElementById('detail-status');
    if (s && window.__seen[window.__seen.length - 1] !== s.textContent) window.__seen.push(s.textContent); })
    .observe(document.getElementById('detail-body'), { childList: true, subtree: true, characterData: true });`);
  await pressEnter();
  await waitFor(`document.getElementById('detail-status').textContent === 'completed'`, 25000, 'the retried job to complete')
    .catch(async (e) => { throw new Error(e.message + '; statuses seen ' + JSON.stringify(await evaluate('window.__seen'))); });
  const seen = await evaluate('window.__seen');
  const after = await evaluate(`[...document.querySelectorAll('#detail-body ol.events li')].map(e => e.textContent)`);
  const hooks = await evaluate(`document.querySelectorAll('#detail-body [data-hook]').length`);
  const toast = await evaluate(`document.getElementById('toast').textContent`);
  return { progress: [first, moved], listed, history, errors, seen, history_after: after, hooks, toast };
}

async function overview() {
  // The counts the database holds (the test read them just before).
  const want = spec.counts;
  const seen = await waitFor(`(() => { const c = Object.fromEntries([...document.querySelectorAll('#counts [data-count]')].map(d => [d.dataset.count, d.querySelector('dd').textContent]));
      return c.Pending === '${want.pending}' && c.Processing === '${want.processing}' && c.Completed === '${want.completed}' && c.Failed === '${want.failed}' ? c : null; })()`,
  10000, 'the counts ' + JSON.stringify(want)).catch(async (e) => { throw new Error(e.message + '; page shows ' + JSON.stringify(await counts())); });
  await waitFor(`document.getElementById('batch-progress')`, 5000, 'the open batch\u2019s progress bar');
  const batchText = await evaluate(`document.getElementById('batch').textContent`);
  await waitFor(`document.querySelectorAll('#actors tbody tr').length >= 5`, 5000, 'the actors table');
  const actors = await evaluate(`[...document.querySelectorAll('#actors tbody tr')].map(r => r.dataset.actor)`);
  await waitFor(`document.querySelectorAll('#chart svg rect, #chart svg polyline').length > 0`, 5000, 'the chart');
  // Provider health: the fetchers' counters, one row for the provider.
  const upstream = await waitFor(`(() => { const r = document.querySelector('#upstream tr[data-upstream="provider:rapidapi"]');
      return r && Object.fromEntries([...r.cells].map(c => [c.dataset.label, c.textContent])); })()`, 5000, 'the provider health row');
  if (!(await noHorizontalScroll())) throw new Error('horizontal scrolling at 1280 px');

  // The screenshot: the whole page at 1280 px with the batch running.
  if (spec.screenshot) {
    const { cssContentSize } = await page('Page.getLayoutMetrics');
    await setWidth(1280, Math.min(Math.ceil(cssContentSize.height), 4000));
    await nextFrames();
    const shot = await page('Page.captureScreenshot', { format: 'png' });
    fs.writeFileSync(spec.screenshot, Buffer.from(shot.data, 'base64'));
    await setWidth(1280, 900);
  }

  // A completed job's hooks.
  await waitFor(`document.querySelector('[data-job="${spec.hooks_job}"]')`, 5000, 'the completed job in the list');
  // By keyboard: the job is a focusable button that Enter opens.
  await evaluate(`document.querySelector('[data-job="${spec.hooks_job}"]').focus()`);
  await pressEnter();
  const hooks = await waitFor(`(() => { const h = [...document.querySelectorAll('#detail-body [data-hook]')].map(e => e.textContent); return h.length ? h : null; })()`, 5000, 'the job\u2019s hooks');
  const events = await evaluate(`document.querySelectorAll('#detail-body ol.events li').length`);

  // Cancel another job through the page: confirmation, then the new state
  // appears by itself (same document, no reload).
  await evaluate(`document.querySelector('[data-job="${spec.cancel_job}"]').click()`);
  await waitFor(`document.getElementById('detail-body').dataset.job === '${spec.cancel_job}' &&
    document.querySelector('#detail-body [data-action="cancel"]')`, 5000, 'the cancellable job\u2019s detail');
  await evaluate(`document.querySelector('#detail-body [data-action="cancel"]').click()`);
  await waitFor(`document.getElementById('confirm').open`, 2000, 'the confirmation dialog');
  // The dialog takes the focus on its confirm button; Enter confirms.
  await waitFor(`document.activeElement && document.activeElement.id === 'confirm-ok'`, 2000, 'the focus on Confirm');
  await pressEnter();
  await waitFor(`document.getElementById('detail-status').textContent === 'failed'`, 8000, 'the cancelled job to show failed');
  await waitFor(`document.querySelector('#counts [data-count="Failed"] dd').textContent === '${want.failed + 1}'`, 8000, 'the failed count to go up by one');

  // Phone width and dark mode.
  await setWidth(390, 844);
  await nextFrames();
  if (!(await noHorizontalScroll())) throw new Error('horizontal scrolling at 390 px: ' + await evaluate('document.documentElement.scrollWidth'));
  await page('Emulation.setEmulatedMedia', { features: [{ name: 'prefers-color-scheme', value: 'dark' }] });
  const bg = await evaluate(`getComputedStyle(document.body).backgroundColor`);
  const rgb = bg.match(/\d+/g).map(Number);
  if (rgb[0] + rgb[1] + rgb[2] > 150) throw new Error('dark mode background is not dark: ' + bg);
  return { counts: seen, batch: batchText, actors, hooks, events, upstream };
}

main().catch((e) => fail(e.message));
