/* global document, location, URL, URLSearchParams, WebSocket, requestAnimationFrame, setTimeout, setInterval */
// The status page's script: one socket to the gateway's WebSocket API, rendering with
// textContent only (values come from devices and hosts, never trusted as HTML).

const wsPath = document.querySelector('meta[name="patchbay-ws"]').content;
const token = new URLSearchParams(location.search).get('token');
const $ = (id) => document.getElementById(id);

/** @type {Map<string, {status: string, available: boolean, lastSeen: number|null, channels: Map<string, {value: unknown, time: number}>}>} */
const devices = new Map();
let hosts = [];
let socket;
let retryMs = 500;
let nextId = 1;
const pending = new Map();
let dirty = false;

function connect() {
  const url = new URL(wsPath, location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  // Browsers cannot set headers on a WebSocket: the token rides in the query (see the README).
  if (token) url.searchParams.set('token', token);
  setConnection('connecting', 'Connecting…');
  socket = new WebSocket(url, ['patchbay.v1']);
  socket.addEventListener('open', () => {
    retryMs = 500;
    setConnection('open', 'Connected');
  });
  socket.addEventListener('message', (message) => onMessage(JSON.parse(message.data)));
  socket.addEventListener('close', (event) => {
    for (const [, show] of pending) show({ ok: false, error: 'connection lost before the reply' });
    pending.clear();
    const why = event.reason ? ` (${event.reason})` : event.code === 1006 ? ' (refused or unreachable; is the token right?)' : '';
    setConnection('closed', `Disconnected${why}; retrying in ${Math.round(retryMs / 1000)} s`);
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 10_000);
  });
}

function setConnection(state, text) {
  const el = $('connection');
  el.dataset.state = state;
  el.textContent = text;
}

function onMessage(msg) {
  switch (msg.type) {
    case 'snapshot':
      $('gateway-name').textContent = msg.gateway;
      devices.clear();
      for (const d of msg.devices) {
        devices.set(d.device, { status: d.status, available: d.available, lastSeen: d.lastSeen, channels: new Map(d.channels.map((c) => [c.channel, { value: c.value, time: c.time }])) });
      }
      applyHealth(msg.health);
      renderCommandDevices();
      log(msg.time ?? Date.now(), `snapshot: ${msg.devices.length} device(s)`);
      break;
    case 'state': {
      const d = device(msg.device);
      d.channels.set(msg.channel, { value: msg.value, time: msg.time });
      d.lastSeen = msg.time;
      log(msg.time, `${msg.device}.${msg.channel} = ${JSON.stringify(msg.value)}`);
      break;
    }
    case 'status':
      if (devices.has(msg.endpoint)) {
        const d = devices.get(msg.endpoint);
        d.status = msg.status;
        d.available = msg.status === 'alive';
      } else {
        const h = hosts.find((x) => x.id === msg.endpoint);
        if (h) Object.assign(h, { status: msg.status, reason: msg.reason });
      }
      log(msg.time, `${msg.endpoint} is ${msg.status}${msg.reason ? ` (${msg.reason})` : ''}`);
      break;
    case 'health':
      applyHealth(msg);
      break;
    case 'reply': {
      const show = pending.get(msg.id);
      pending.delete(msg.id);
      if (show) show(msg);
      log(msg.time ?? Date.now(), `reply #${msg.id}: ${msg.ok ? `ok ${JSON.stringify(msg.value)}` : `failed: ${msg.error}`}`);
      break;
    }
    case 'error':
      log(Date.now(), `error: ${msg.error}`);
      if (msg.id !== undefined && pending.has(msg.id)) {
        pending.get(msg.id)({ ok: false, error: msg.error });
        pending.delete(msg.id);
      }
      break;
  }
  schedule();
}

function device(id) {
  let d = devices.get(id);
  if (!d) {
    d = { status: 'unknown', available: false, lastSeen: null, channels: new Map() };
    devices.set(id, d);
    renderCommandDevices();
  }
  return d;
}

function applyHealth(health) {
  hosts = health.hosts;
  for (const h of health.devices) {
    const d = device(h.id);
    d.status = h.status;
    d.available = h.status === 'alive';
    if (h.lastSeen !== null && (d.lastSeen === null || h.lastSeen > d.lastSeen)) d.lastSeen = h.lastSeen;
  }
}

// Render at most once per frame however fast events arrive.
function schedule() {
  if (dirty) return;
  dirty = true;
  requestAnimationFrame(() => {
    dirty = false;
    render();
  });
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
  for (const child of children) node.append(child);
  return node;
}

function ago(time) {
  if (time === null || time === undefined) return 'never';
  const s = Math.max(0, Math.round((Date.now() - time) / 1000));
  return s < 60 ? `${s} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : new Date(time).toLocaleString();
}

function render() {
  const list = $('devices');
  const cards = [];
  for (const [id, d] of [...devices].sort(([a], [b]) => a.localeCompare(b))) {
    const rows = [...d.channels].sort(([a], [b]) => a.localeCompare(b)).map(([channel, c]) =>
      el('tr', { 'data-channel': channel }, el('th', { scope: 'row' }, channel), el('td', { class: 'value' }, JSON.stringify(c.value)), el('td', {}, el('time', { datetime: new Date(c.time).toISOString() }, ago(c.time)))),
    );
    const table = el('table', {}, el('caption', { class: 'visually-hidden' }, `Channels of ${id}`), el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Channel'), el('th', { scope: 'col' }, 'Value'), el('th', { scope: 'col' }, 'Updated'))), el('tbody', {}, ...rows));
    cards.push(
      el('article', { class: 'device', 'data-device': id, 'aria-label': `Device ${id}` },
        el('h3', {}, id, el('span', { class: `badge status-${d.status}` }, d.available ? 'available' : `unavailable (${d.status})`)),
        el('p', { class: 'meta' }, `Last seen ${ago(d.lastSeen)}`),
        table),
    );
  }
  if (cards.length === 0) list.replaceChildren(el('p', { class: 'empty' }, 'No devices yet.'));
  else list.replaceChildren(...cards);
  $('hosts').replaceChildren(
    ...hosts.map((h) =>
      el('tr', { 'data-host': h.id }, el('th', { scope: 'row' }, h.id), el('td', {}, h.type), el('td', { class: `status-${h.status}` }, h.status, ...(h.reason ? [el('small', { class: 'reason', title: h.reason }, h.reason)] : [])), el('td', { class: 'num' }, String(h.queued)), el('td', { class: 'num' }, String(h.delivered)), el('td', { class: 'num' }, String(h.failed))),
    ),
  );
}

function renderCommandDevices() {
  const select = $('command-device');
  const current = select.value;
  select.replaceChildren(...[...devices.keys()].sort().map((id) => el('option', { value: id }, id)));
  if (devices.has(current)) select.value = current;
  renderChannels();
}

function renderChannels() {
  const d = devices.get($('command-device').value);
  $('command-channels').replaceChildren(...(d ? [...d.channels.keys()] : []).map((c) => el('option', { value: c })));
}

function log(time, text) {
  const list = $('event-log');
  list.prepend(el('li', {}, el('time', { datetime: new Date(time).toISOString() }, new Date(time).toLocaleTimeString()), text));
  while (list.childElementCount > 200) list.lastElementChild.remove();
}

$('command-device').addEventListener('change', renderChannels);
$('command-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const out = $('command-reply');
  const deviceId = $('command-device').value;
  const channel = $('command-channel').value.trim();
  if (!deviceId || !channel || !socket || socket.readyState !== WebSocket.OPEN) {
    out.dataset.ok = 'false';
    out.textContent = !socket || socket.readyState !== WebSocket.OPEN ? 'Not connected.' : 'Choose a device and a channel.';
    return;
  }
  const raw = $('command-value').value.trim();
  let value;
  if (raw !== '') {
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
  }
  const id = nextId++;
  out.dataset.ok = '';
  out.textContent = `Sent #${id}, waiting for the reply…`;
  pending.set(id, (reply) => {
    out.dataset.ok = String(reply.ok);
    out.textContent = reply.ok ? `Reply #${id}: ok, value ${JSON.stringify(reply.value)}` : `Reply #${id}: failed: ${reply.error}`;
  });
  socket.send(JSON.stringify({ type: 'command', id, device: deviceId, channel, value }));
});

// "Last seen" and "updated" are relative: refresh them even when nothing arrives.
setInterval(schedule, 1000);
connect();
