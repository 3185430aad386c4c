/* global document, location, URLSearchParams, WebSocket, requestAnimationFrame, setInterval */
// The status page's script: one socket to the gateway's WebSocket API, rendering with
// textContent only (values come from devices and hosts, never trusted as HTML).

const wsPath = document.querySelector('meta[name="patchbay-ws"]').content;
const token = new URLSearchParams(location.search).get('token');
const $ = (id) => document.getElementById(id);

/**
 * Per device: what the gateway said of it, and its card's elements, built once per shape (a new
 * description or channel) and then updated in place, so a control being used keeps its focus.
 * @type {Map<string, {status: string, availability: string, reason: string|undefined, lastSeen: number|null, description: any, channels: Map<string, {value: unknown, time: number}>, lastEvent: Map<string, {value: unknown, time: number}>, card: any, shape: string}>}
 */
const devices = new Map();
let hosts = [];
/** The cluster section of the health (issue 19.7): undefined when this gateway is in no cluster, null until its link starts. */
let cluster;
/** What the cluster panels were last drawn from: they are rebuilt only when it changes. */
let clusterDrawn = '';
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
        const record = device(d.device);
        Object.assign(record, { status: d.status, availability: d.availability ?? (d.available ? 'online' : 'offline'), reason: d.availabilityReason, lastSeen: d.lastSeen, description: d.description });
        for (const c of d.channels) record.channels.set(c.channel, { value: c.value, time: c.time });
      }
      applyHealth(msg.health);
      renderCommandDevices();
      log(msg.time ?? Date.now(), `snapshot: ${msg.devices.length} device(s)`);
      break;
    case 'state': {
      const d = device(msg.device);
      d.channels.set(msg.channel, { value: msg.value, time: msg.time });
      d.lastSeen = msg.time;
      log(msg.time, `${msg.device}.${msg.channel} = ${JSON.stringify(msg.value)}${unitOf(d, msg.channel) ? ` ${unitOf(d, msg.channel)}` : ''}`);
      break;
    }
    case 'description': {
      const d = device(msg.device);
      d.description = msg.description;
      renderCommandDevices();
      log(msg.time, `${msg.device} described as "${msg.description.name}" (${Object.keys(msg.description.channels).length} channels)`);
      break;
    }
    case 'availability': {
      const d = device(msg.device);
      Object.assign(d, { availability: msg.availability, reason: msg.reason });
      if (msg.lastSeen !== null && msg.lastSeen !== undefined) d.lastSeen = Math.max(d.lastSeen ?? 0, msg.lastSeen);
      log(msg.time, `${msg.device} is ${msg.availability}${msg.reason ? ` (${msg.reason})` : ''}`);
      break;
    }
    case 'event': {
      const d = device(msg.device);
      d.lastEvent.set(msg.channel, { value: msg.value, time: msg.time });
      d.lastSeen = msg.time;
      log(msg.time, `${msg.device}.${msg.channel} event ${JSON.stringify(msg.value)}`);
      break;
    }
    case 'status':
      if (devices.has(msg.endpoint)) {
        devices.get(msg.endpoint).status = msg.status;
      } else {
        const h = hosts.find((x) => x.id === msg.endpoint);
        if (h) Object.assign(h, { status: msg.status, reason: msg.reason });
      }
      log(msg.time, `${msg.endpoint} is ${msg.status}${msg.reason ? ` (${msg.reason})` : ''}`);
      break;
    case 'health':
      applyHealthChanges(msg);
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
    d = { status: 'unknown', availability: 'offline', reason: undefined, lastSeen: null, description: undefined, channels: new Map(), lastEvent: new Map(), card: undefined, shape: '' };
    devices.set(id, d);
    renderCommandDevices();
  }
  return d;
}

function applyHealth(health) {
  hosts = health.hosts;
  cluster = health.cluster;
  applyDeviceHealth(health.devices);
}

// After the snapshot, health messages carry only the entries that changed (and ids removed).
function applyHealthChanges(changes) {
  const removed = new Set(changes.removed ?? []);
  const byId = new Map(hosts.filter((h) => !removed.has(h.id)).map((h) => [h.id, h]));
  for (const h of changes.hosts ?? []) byId.set(h.id, h);
  hosts = [...byId.values()];
  // The cluster section comes whole when it changed.
  if ('cluster' in changes) cluster = changes.cluster;
  for (const id of removed) devices.delete(id);
  applyDeviceHealth(changes.devices ?? []);
}

function applyDeviceHealth(entries) {
  for (const h of entries) {
    const d = device(h.id);
    d.status = h.status;
    if (h.availability) Object.assign(d, { availability: h.availability, reason: h.availabilityReason });
    // A device another gateway of the cluster owns (issue 19.7).
    d.origin = h.origin;
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
  for (const [k, v] of Object.entries(attributes)) {
    if (v === undefined || v === false) continue;
    node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const child of children) node.append(child);
  return node;
}

/** What a host says it is connected to: its peer count, yes/no, or a dash before it says. */
function peersText(h) {
  if (h.connected === undefined) return '—';
  if (h.peers !== undefined) return String(h.peers);
  return h.connected ? 'yes' : 'no';
}

function ago(time) {
  if (time === null || time === undefined) return 'never';
  const s = Math.max(0, Math.round((Date.now() - time) / 1000));
  return s < 60 ? `${s} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : new Date(time).toLocaleString();
}

function describedChannel(d, channel) {
  return d.description?.channels?.[channel];
}

function unitOf(d, channel) {
  return describedChannel(d, channel)?.unit ?? '';
}

/** A value as people read it: booleans as on/off for switches, numbers with their unit. */
function showValue(d, channel, value) {
  if (value === undefined) return '—';
  const c = describedChannel(d, channel);
  if (c?.kind === 'boolean' && typeof value === 'boolean') return value ? 'on' : 'off';
  const text = typeof value === 'string' && c && c.kind !== 'json' ? value : JSON.stringify(value);
  return c?.unit ? `${text} ${c.unit}` : text;
}

/** The channels a card lists: described ones in their declared order, then any others that reported. */
function channelIds(d) {
  const described = Object.keys(d.description?.channels ?? {});
  const others = [...d.channels.keys()].filter((c) => !described.includes(c)).sort();
  return [...described, ...others];
}

function send(command, onReply) {
  if (!socket || socket.readyState !== WebSocket.OPEN) {
    onReply({ ok: false, error: 'not connected' });
    return;
  }
  const id = nextId++;
  pending.set(id, onReply);
  socket.send(JSON.stringify({ type: 'command', id, ...command }));
  return id;
}

/** The control for one writable channel, by kind; read-only and undescribed channels get none. */
function control(id, channel, c) {
  if (!c?.writable) return el('span', { class: 'visually-hidden' }, 'read-only');
  const label = `${c.name ?? channel} of ${id}`;
  const report = (node) => (reply) => {
    node.disabled = false;
    node.dataset.ok = String(reply.ok);
    node.title = reply.ok ? '' : reply.error;
    if (!reply.ok) log(Date.now(), `${id}.${channel}: ${reply.error}`);
    schedule();
  };
  switch (c.kind) {
    case 'boolean': {
      const toggle = el('button', { type: 'button', role: 'switch', class: 'toggle', 'aria-checked': 'false', 'aria-label': label, 'data-control': channel });
      toggle.addEventListener('click', () => {
        const next = toggle.getAttribute('aria-checked') !== 'true';
        toggle.disabled = true;
        send({ device: id, channel, value: next }, report(toggle));
      });
      return toggle;
    }
    case 'number': {
      const input = el('input', { type: 'number', min: c.min, max: c.max, step: c.step ?? 'any', 'aria-label': label, 'data-control': channel, required: true });
      const form = el('form', { class: 'inline' }, input, el('button', { type: 'submit' }, 'Set'));
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        if (!input.checkValidity()) {
          input.reportValidity();
          return;
        }
        input.disabled = true;
        send({ device: id, channel, value: Number(input.value) }, report(input));
      });
      return form;
    }
    case 'enum': {
      const select = el('select', { 'aria-label': label, 'data-control': channel }, ...(c.options ?? []).map((o) => el('option', { value: o }, o)));
      select.addEventListener('change', () => {
        select.disabled = true;
        send({ device: id, channel, value: select.value }, report(select));
      });
      return select;
    }
    case 'text': {
      const input = el('input', { type: 'text', 'aria-label': label, 'data-control': channel });
      const form = el('form', { class: 'inline' }, input, el('button', { type: 'submit' }, 'Set'));
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        input.disabled = true;
        send({ device: id, channel, value: input.value }, report(input));
      });
      return form;
    }
    default:
      return el('span', {});
  }
}

/** Builds a device's card; called again only when its shape (description, channel list) changes. */
function buildCard(id, d) {
  const badge = el('span', { class: 'badge' });
  const name = el('span', { class: 'name' }, d.description?.name ?? id);
  const heading = el('h3', {}, name, ...(d.description?.name && d.description.name !== id ? [el('small', { class: 'id' }, id)] : []), badge);
  const meta = el('p', { class: 'meta' });
  const rows = new Map();
  const body = el('tbody');
  for (const channel of channelIds(d)) {
    const c = describedChannel(d, channel);
    const value = el('td', { class: 'value' });
    const updated = el('td', {}, el('time'));
    const row = el('tr', { 'data-channel': channel, 'data-kind': c?.kind ?? 'json' }, el('th', { scope: 'row' }, c?.name ?? channel), value, updated, el('td', { class: 'control' }, control(id, channel, c)));
    rows.set(channel, { row, value, updated });
    body.append(row);
  }
  const table = el('table', {}, el('caption', { class: 'visually-hidden' }, `Channels of ${id}`), el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Channel'), el('th', { scope: 'col' }, 'Value'), el('th', { scope: 'col' }, 'Updated'), el('th', { scope: 'col' }, 'Control'))), body);
  const actions = Object.entries(d.description?.actions ?? {}).map(([action, a]) => {
    const button = el('button', { type: 'button', 'data-action': action }, a.name ?? action);
    button.addEventListener('click', () => {
      button.disabled = true;
      send({ device: id, action }, (reply) => {
        button.disabled = false;
        button.dataset.ok = String(reply.ok);
        if (!reply.ok) log(Date.now(), `${id} ${action}: ${reply.error}`);
      });
    });
    return button;
  });
  const card = el('article', { class: 'device', 'data-device': id, 'aria-label': `Device ${id}` }, heading, meta, table, ...(actions.length ? [el('p', { class: 'actions' }, ...actions)] : []));
  return { card, badge, meta, rows };
}

function render() {
  const list = $('devices');
  const ids = [...devices.keys()].sort((a, b) => a.localeCompare(b));
  const cards = [];
  for (const id of ids) {
    const d = devices.get(id);
    const shape = JSON.stringify([d.description ?? null, channelIds(d)]);
    if (d.card === undefined || d.shape !== shape) {
      d.card = buildCard(id, d);
      d.shape = shape;
    }
    const { card, badge, meta, rows } = d.card;
    card.dataset.availability = d.availability;
    badge.className = `badge availability-${d.availability}`;
    badge.textContent = d.availability;
    badge.title = d.reason ?? '';
    meta.textContent = `Last seen ${ago(d.lastSeen)}${d.availability !== 'online' && d.reason ? ` — ${d.reason}` : ''}${d.origin ? ` — on gateway ${d.origin}` : ''}`;
    for (const [channel, parts] of rows) {
      const c = describedChannel(d, channel);
      const latest = c?.kind === 'event' ? d.lastEvent.get(channel) : d.channels.get(channel);
      parts.value.textContent = c?.kind === 'event' && latest ? `${JSON.stringify(latest.value)} (event)` : showValue(d, channel, latest?.value);
      const time = parts.updated.firstChild;
      if (latest) time.setAttribute('datetime', new Date(latest.time).toISOString());
      time.textContent = latest ? ago(latest.time) : '';
      const toggle = parts.row.querySelector('button.toggle');
      if (toggle && !toggle.disabled) toggle.setAttribute('aria-checked', String(latest?.value === true));
      const picker = parts.row.querySelector('select[data-control]');
      if (picker && !picker.disabled && document.activeElement !== picker && typeof latest?.value === 'string') picker.value = latest.value;
    }
    cards.push(card);
  }
  if (cards.length === 0) list.replaceChildren(el('p', { class: 'empty' }, 'No devices yet.'));
  else if (cards.some((card, i) => list.children[i] !== card) || list.children.length !== cards.length) list.replaceChildren(...cards);
  $('hosts').replaceChildren(
    ...hosts.map((h) =>
      el('tr', { 'data-host': h.id }, el('th', { scope: 'row' }, h.id), el('td', {}, h.type), el('td', { class: `status-${h.status}`, title: h.reason }, h.status, ...(h.reason ? [el('small', { class: 'reason', title: h.reason }, h.reason)] : [])), el('td', { class: 'num' }, String(h.queued)), el('td', { class: 'num' }, String(h.delivered)), el('td', { class: 'num' }, String(h.failed)), el('td', { class: 'peers', title: h.connection ?? '' }, peersText(h))),
    ),
  );
  renderCluster();
}

/** One panel per gateway of the cluster: its link state, its devices, and the ids refused from it as duplicates. */
function renderCluster() {
  const drawn = JSON.stringify(cluster ?? null);
  if (drawn === clusterDrawn) return;
  clusterDrawn = drawn;
  $('cluster-section').hidden = cluster === undefined;
  if (!cluster) {
    $('cluster-summary').textContent = cluster === null ? 'The cluster link has not started yet.' : '';
    $('cluster-gateways').replaceChildren();
    return;
  }
  $('cluster-summary').textContent = `Cluster ${cluster.cluster}, over the broker ${cluster.broker}`;
  const ids = cluster.gateways.map((g) => g.id);
  // A gateway heard only through a refused id still gets its panel, so the refusal is shown.
  for (const r of cluster.refused) if (!ids.includes(r.gateway)) ids.push(r.gateway);
  $('cluster-gateways').replaceChildren(
    ...ids.map((id) => {
      const g = cluster.gateways.find((x) => x.id === id) ?? { id, status: 'unknown', devices: [] };
      const heading = el('h3', {}, el('span', { class: 'name' }, id), el('span', { class: `badge gateway-${g.status}` }, g.status), ...(g.self ? [el('small', { class: 'self' }, 'this gateway')] : []));
      const parts = [heading];
      // Our own link to the broker: what every other panel's state depends on.
      if (g.self) parts.push(el('p', { class: 'meta broker', 'data-broker': cluster.connected ? 'up' : 'down', title: cluster.broker }, cluster.connected ? 'broker up' : 'broker down'));
      parts.push(g.devices.length ? el('ul', { class: 'devices', 'aria-label': `Devices of gateway ${id}` }, ...g.devices.map((d) => el('li', {}, d))) : el('p', { class: 'empty' }, 'No devices.'));
      const refused = cluster.refused.filter((r) => r.gateway === id);
      if (refused.length) {
        parts.push(
          el('p', { class: 'meta' }, 'Refused as duplicates:'),
          el('ul', { class: 'refused', 'aria-label': `Device ids refused from gateway ${id}` }, ...refused.map((r) => el('li', { 'data-refused': r.device, title: r.reason }, `${r.device} (held by ${r.heldBy})`))),
        );
      }
      return el('article', { class: 'gateway', 'data-gateway': id, 'data-status': g.status, 'aria-label': `Gateway ${id}` }, ...parts);
    }),
  );
}

function renderCommandDevices() {
  const select = $('command-device');
  const current = select.value;
  select.replaceChildren(...[...devices.keys()].sort().map((id) => el('option', { value: id }, id)));
  if (devices.has(current)) select.value = current;
  renderChannels();
}

/** The free-form command's suggestions: writable channels, and undescribed ones (writability unknown). */
function renderChannels() {
  const d = devices.get($('command-device').value);
  const ids = d ? channelIds(d).filter((c) => describedChannel(d, c)?.writable !== false) : [];
  $('command-channels').replaceChildren(...ids.map((c) => el('option', { value: c })));
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
  out.dataset.ok = '';
  const id = send({ device: deviceId, channel, value }, (reply) => {
    out.dataset.ok = String(reply.ok);
    out.textContent = reply.ok ? `Reply #${id}: ok, value ${JSON.stringify(reply.value)}` : `Reply #${id}: failed: ${reply.error}`;
  });
  out.textContent = `Sent #${id}, waiting for the reply…`;
});

// "Last seen" and "updated" are relative: refresh them even when nothing arrives.
setInterval(schedule, 1000);
connect();
