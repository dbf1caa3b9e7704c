// The sandbox page: a Telegram-like chat per simulated user. Actions go to the sandbox's API,
// which turns them into real Telegram updates; everything shown comes from the session log,
// streamed over server-sent events (the same log the transcript export holds).
'use strict';

const state = {
  users: new Map(),      // id -> user
  // id -> { log, bubbles: Map(message_id -> element), messages: Map(message_id -> last render
  //        arguments), payments: Map(invoice message_id -> 'paying' | 'paid'),
  //        paymentErrors: Map(invoice message_id -> error text), unread, keyboard }
  chats: new Map(),
  active: null,
  commands: [],
  places: [],
};

const $ = (id) => document.getElementById(id);

async function api(path, body) {
  const response = await fetch(path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    toast(data.error || `request failed (${response.status})`);
    throw new Error(data.error || response.statusText);
  }
  return data;
}

// ---------- users and chats ----------

function chat(id) {
  if (!state.chats.has(id)) {
    const log = document.createElement('div');
    log.className = 'chat-log';
    log.dataset.chatId = id;
    log.hidden = id !== state.active;
    $('messages').appendChild(log);
    state.chats.set(id, {
      log, bubbles: new Map(), messages: new Map(), payments: new Map(), paymentErrors: new Map(),
      unread: 0, keyboard: null,
    });
  }
  return state.chats.get(id);
}

const ROLE_NAMES = {
  customer: 'Customer',
  business_owner: 'Business owner',
  admin: 'Admin',
  new_user: 'New user',
};

function addUser(user) {
  state.users.set(user.id, user);
  chat(user.id);
  renderUsers();
}

function renderUsers() {
  const list = $('users');
  list.replaceChildren();
  for (const user of state.users.values()) {
    const item = document.createElement('li');
    item.dataset.userId = user.id;
    item.dataset.role = user.role;
    if (user.id === state.active) item.className = 'active';
    const avatar = document.createElement('div');
    avatar.className = `avatar ${user.role}`;
    avatar.textContent = user.first_name.slice(0, 1).toUpperCase();
    const text = document.createElement('div');
    text.className = 'user-text';
    const name = document.createElement('div');
    name.className = 'user-name';
    name.textContent = user.first_name;
    const role = document.createElement('div');
    role.className = 'hint';
    const language = user.language_code ? ` · ${user.language_code}` : '';
    role.textContent = `${ROLE_NAMES[user.role] || user.role} · id ${user.id}${language}`;
    text.append(name, role);
    item.append(avatar, text);
    const unread = chat(user.id).unread;
    if (unread > 0) {
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.textContent = unread;
      item.appendChild(badge);
    }
    item.addEventListener('click', () => selectUser(user.id));
    list.appendChild(item);
  }
}

function selectUser(id) {
  state.active = id;
  const user = state.users.get(id);
  for (const [chatId, c] of state.chats) c.log.hidden = chatId !== id;
  const current = chat(id);
  current.unread = 0;
  $('chat-title').textContent = user ? user.first_name : '';
  $('chat-subtitle').textContent = user
    ? `${ROLE_NAMES[user.role] || user.role} · chatting with @${state.botUsername}`
    : '';
  $('location-panel').hidden = true;
  $('commands-panel').hidden = true;
  // A notice belongs to the chat it was shown in.
  $('toast').hidden = true;
  renderUsers();
  renderReplyKeyboard();
  scrollDown();
  $('text').focus();
}

function scrollDown() {
  const box = $('messages');
  box.scrollTop = box.scrollHeight;
}

// ---------- rendering messages ----------

const ALLOWED_TAGS = {
  B: 'b', STRONG: 'b', I: 'i', EM: 'i', U: 'u', INS: 'u', S: 's', STRIKE: 's', DEL: 's',
  CODE: 'code', PRE: 'pre', A: 'a', BLOCKQUOTE: 'blockquote', 'TG-SPOILER': 'span',
  SPAN: 'span', 'TG-EMOJI': 'span',
};

// Telegram's HTML subset, rebuilt node by node: nothing but the allowed tags reaches the page.
function copyAllowed(source, target) {
  for (const node of source.childNodes) {
    if (node.nodeType === Node.TEXT_NODE) {
      target.appendChild(document.createTextNode(node.textContent));
    } else if (node.nodeType === Node.ELEMENT_NODE) {
      const tag = ALLOWED_TAGS[node.tagName];
      if (!tag) {
        copyAllowed(node, target);
        continue;
      }
      const element = document.createElement(tag);
      if (tag === 'a') {
        const href = node.getAttribute('href') || '';
        if (/^(https?:|tg:|mailto:)/i.test(href)) {
          element.href = href;
          element.target = '_blank';
          element.rel = 'noopener noreferrer';
        }
      }
      if (node.tagName === 'TG-SPOILER' || (node.tagName === 'SPAN' && node.classList.contains('tg-spoiler'))) {
        element.className = 'tg-spoiler';
        element.addEventListener('click', () => element.classList.add('revealed'));
      }
      copyAllowed(node, element);
      target.appendChild(element);
    }
  }
}

function renderHtml(text, target) {
  const doc = new DOMParser().parseFromString(`<body>${text}</body>`, 'text/html');
  copyAllowed(doc.body, target);
}

function escapeHtml(text) {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
}

// Markdown and MarkdownV2, the common part: *bold*, _italic_, `code`, ```pre```, [text](url).
function renderMarkdown(text, target) {
  let html = escapeHtml(text);
  html = html
    .replace(/```(?:\w*\n)?([\s\S]*?)```/g, '<pre>$1</pre>')
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*([^*]+)\*/g, '<b>$1</b>')
    .replace(/__([^_]+)__/g, '<u>$1</u>')
    .replace(/_([^_]+)_/g, '<i>$1</i>')
    .replace(/~([^~]+)~/g, '<s>$1</s>')
    .replace(/\|\|([^|]+)\|\|/g, '<tg-spoiler>$1</tg-spoiler>')
    .replace(/\[([^\]]+)\]\(([^)]+)\)/g, '<a href="$2">$1</a>')
    .replace(/\\([_*[\]()~`>#+\-=|{}.!\\])/g, '$1');
  renderHtml(html, target);
}

function renderText(text, parseMode, target) {
  const mode = (parseMode || '').toLowerCase();
  if (mode === 'html') renderHtml(text, target);
  else if (mode === 'markdown' || mode === 'markdownv2') renderMarkdown(text, target);
  else target.appendChild(document.createTextNode(text));
}

function time(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function locationBox(latitude, longitude, label) {
  const box = document.createElement('div');
  box.className = 'location-box';
  box.textContent = `📍 ${label ? `${label} · ` : ''}${latitude.toFixed(5)}, ${longitude.toFixed(5)}`;
  return box;
}

function photoBox(fileId) {
  const box = document.createElement('div');
  box.className = 'photo';
  box.title = fileId;
  box.textContent = `📷 photo (${fileId})`;
  return box;
}

// Amounts in minor units, as the bot formats them ("EUR 4.50"); digits as ISO 4217 has them.
const ZERO_DIGITS = new Set(['BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF',
  'UGX', 'VND', 'VUV', 'XAF', 'XOF', 'XPF', 'XTR']);
const THREE_DIGITS = new Set(['BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND']);
function money(minor, currency) {
  const digits = ZERO_DIGITS.has(currency) ? 0 : THREE_DIGITS.has(currency) ? 3 : 2;
  const sign = minor < 0 ? '-' : '';
  const abs = Math.abs(minor);
  if (digits === 0) return `${currency} ${sign}${abs}`;
  const scale = 10 ** digits;
  return `${currency} ${sign}${Math.floor(abs / scale)}.${String(abs % scale).padStart(digits, '0')}`;
}

// An invoice (sendInvoice): title, description and total, as Telegram's invoice card shows them.
function invoiceBox(chatId, messageId, invoice) {
  const box = document.createElement('div');
  box.className = 'invoice';
  const title = document.createElement('div');
  title.className = 'invoice-title';
  title.textContent = invoice.title;
  const description = document.createElement('div');
  description.className = 'invoice-description';
  description.textContent = invoice.description;
  const total = document.createElement('div');
  total.className = 'invoice-total';
  total.textContent = `${money(invoice.total_amount, invoice.currency)} · INVOICE`;
  box.append(title, description, total);
  const error = chat(chatId).paymentErrors.get(messageId);
  if (error) {
    const line = document.createElement('div');
    line.className = 'payment-error';
    line.textContent = error;
    box.appendChild(line);
  }
  return box;
}

// A bot message: bubble plus its inline keyboard, in one element that edits replace.
function botMessageElement(chatId, message, parseMode, atMs) {
  chat(chatId).messages.set(message.message_id, { message, parseMode, atMs });
  const wrapper = document.createElement('div');
  wrapper.className = 'bot-message';
  wrapper.dataset.messageId = message.message_id;
  const bubble = document.createElement('div');
  bubble.className = 'message bot';
  if (message.photo) bubble.appendChild(photoBox(message.photo[message.photo.length - 1].file_id));
  if (message.location) bubble.appendChild(locationBox(message.location.latitude, message.location.longitude));
  if (message.invoice) bubble.appendChild(invoiceBox(chatId, message.message_id, message.invoice));
  const body = document.createElement('div');
  body.className = 'text';
  const text = message.text ?? message.caption;
  if (text) renderText(text, parseMode, body);
  bubble.appendChild(body);
  const meta = document.createElement('div');
  meta.className = 'meta';
  meta.textContent = `${message.edit_date ? 'edited ' : ''}${time(atMs)}`;
  bubble.appendChild(meta);
  wrapper.appendChild(bubble);
  let rows = message.reply_markup && message.reply_markup.inline_keyboard;
  // An invoice without a keyboard gets Telegram's own Pay button.
  if (!rows && message.invoice) {
    rows = [[{ text: `Pay ${money(message.invoice.total_amount, message.invoice.currency)}`, pay: true }]];
  }
  if (rows) wrapper.appendChild(inlineKeyboard(chatId, message.message_id, rows));
  return wrapper;
}

// Renders a bot message again (its payment state changed).
function rerender(chatId, messageId) {
  const c = chat(chatId);
  const shown = c.messages.get(messageId);
  const old = c.bubbles.get(messageId);
  if (!shown || !old) return;
  const element = botMessageElement(chatId, shown.message, shown.parseMode, shown.atMs);
  c.bubbles.set(messageId, element);
  old.replaceWith(element);
}

function payButton(chatId, messageId, button) {
  const element = document.createElement('button');
  element.type = 'button';
  element.className = 'pay-button';
  const payment = chat(chatId).payments.get(messageId);
  if (payment === 'paid') {
    element.textContent = '✅ Paid · Receipt';
    element.disabled = true;
  } else if (payment === 'paying') {
    element.textContent = 'Processing payment…';
    element.disabled = true;
  } else {
    element.textContent = button.text;
    element.dataset.pay = 'true';
    element.addEventListener('click', () => {
      element.disabled = true;
      api(`/api/users/${chatId}/pay`, { message_id: messageId })
        .catch(() => { element.disabled = false; });
    });
  }
  return element;
}

function inlineKeyboard(chatId, messageId, rows) {
  const keyboard = document.createElement('div');
  keyboard.className = 'inline-keyboard';
  for (const row of rows) {
    const line = document.createElement('div');
    line.className = 'keyboard-row';
    for (const button of row) {
      let element;
      if (button.pay) {
        element = payButton(chatId, messageId, button);
      } else if (button.url) {
        element = document.createElement('a');
        element.href = button.url;
        element.target = '_blank';
        element.rel = 'noopener noreferrer';
        element.textContent = `${button.text} ↗`;
      } else {
        element = document.createElement('button');
        element.type = 'button';
        element.textContent = button.text;
        if (button.callback_data !== undefined) {
          element.dataset.callbackData = button.callback_data;
          element.addEventListener('click', () =>
            api(`/api/users/${chatId}/button`, { message_id: messageId, data: button.callback_data }).catch(() => {}));
        } else {
          element.disabled = true;
          element.title = 'This kind of button is not simulated';
        }
      }
      line.appendChild(element);
    }
    keyboard.appendChild(line);
  }
  return keyboard;
}

function userBubble(entry, content) {
  const bubble = document.createElement('div');
  bubble.className = 'message user';
  bubble.dataset.messageId = entry.message_id;
  bubble.appendChild(content);
  const meta = document.createElement('div');
  meta.className = 'meta';
  meta.textContent = time(entry.at_ms);
  bubble.appendChild(meta);
  return bubble;
}

function serviceLine(text) {
  const line = document.createElement('div');
  line.className = 'message service';
  line.textContent = text;
  return line;
}

// ---------- the reply keyboard ----------

function renderReplyKeyboard() {
  const area = $('reply-keyboard');
  area.replaceChildren();
  const current = state.active === null ? null : chat(state.active).keyboard;
  area.hidden = !current;
  if (!current) return;
  for (const row of current.keyboard) {
    const line = document.createElement('div');
    line.className = 'keyboard-row';
    for (const raw of row) {
      const button = typeof raw === 'string' ? { text: raw } : raw;
      const element = document.createElement('button');
      element.type = 'button';
      element.textContent = button.text;
      element.addEventListener('click', () => {
        if (current.one_time_keyboard) {
          chat(state.active).keyboard = null;
          renderReplyKeyboard();
        }
        if (button.request_location) {
          $('location-panel').hidden = false;
          return;
        }
        sendText(button.text);
      });
      line.appendChild(element);
    }
    area.appendChild(line);
  }
}

function applyReplyMarkup(chatId, markup) {
  if (!markup) return;
  if (markup.keyboard) chat(chatId).keyboard = markup;
  else if (markup.remove_keyboard) chat(chatId).keyboard = null;
  else return;
  if (chatId === state.active) renderReplyKeyboard();
}

// ---------- the session log ----------

function apply(entry) {
  const chatId = entry.chat_id;
  switch (entry.kind) {
    case 'user_added':
      addUser(entry.user);
      return;
    case 'user_text': {
      const text = document.createElement('div');
      text.textContent = entry.text;
      chat(chatId).log.appendChild(userBubble(entry, text));
      break;
    }
    case 'user_location':
      chat(chatId).log.appendChild(userBubble(entry, locationBox(entry.latitude, entry.longitude, entry.label)));
      break;
    case 'user_photo':
      chat(chatId).log.appendChild(userBubble(entry, photoBox(entry.file_id)));
      break;
    case 'button_pressed':
      chat(chatId).log.appendChild(serviceLine(`pressed “${entry.button_text}”`));
      break;
    case 'bot_message': {
      const c = chat(chatId);
      const element = botMessageElement(chatId, entry.message, entry.parse_mode, entry.at_ms);
      c.bubbles.set(entry.message.message_id, element);
      c.log.appendChild(element);
      applyReplyMarkup(chatId, entry.message.reply_markup);
      if (chatId !== state.active) {
        c.unread += 1;
        renderUsers();
      }
      break;
    }
    case 'bot_edit': {
      const c = chat(chatId);
      const old = c.bubbles.get(entry.message.message_id);
      const element = botMessageElement(chatId, entry.message, entry.parse_mode, entry.at_ms);
      c.bubbles.set(entry.message.message_id, element);
      if (old) old.replaceWith(element);
      else c.log.appendChild(element);
      break;
    }
    case 'bot_delete': {
      const c = chat(chatId);
      const old = c.bubbles.get(entry.message_id);
      if (old) old.remove();
      c.bubbles.delete(entry.message_id);
      break;
    }
    case 'pay_pressed': {
      const c = chat(chatId);
      c.payments.set(entry.message_id, 'paying');
      c.paymentErrors.delete(entry.message_id);
      rerender(chatId, entry.message_id);
      c.log.appendChild(serviceLine(`pressed “Pay ${money(entry.total_amount, entry.currency)}”`));
      break;
    }
    case 'pre_checkout_answered': {
      if (entry.ok) return;
      // Telegram shows the bot's refusal in the payment form; here under the invoice and as a
      // notice.
      const c = chat(chatId);
      c.payments.delete(entry.invoice_message_id);
      const error = entry.error_message || 'The payment was declined.';
      c.paymentErrors.set(entry.invoice_message_id, error);
      rerender(chatId, entry.invoice_message_id);
      const line = serviceLine(`Payment failed: ${error}`);
      line.classList.add('payment-failed');
      c.log.appendChild(line);
      if (chatId === state.active) toast(error);
      break;
    }
    case 'payment_sent': {
      const c = chat(chatId);
      c.payments.set(entry.invoice_message_id, 'paid');
      rerender(chatId, entry.invoice_message_id);
      const line = serviceLine(
        `You successfully transferred ${money(entry.total_amount, entry.currency)} to `
        + `@${state.botUsername} for “${entry.title}”`);
      line.classList.add('payment-sent');
      line.dataset.messageId = entry.message_id;
      c.log.appendChild(line);
      break;
    }
    case 'callback_answer':
      if (entry.text && chatId === state.active) {
        if (entry.show_alert) window.alert(entry.text);
        else toast(entry.text);
      }
      return;
    default:
      return;
  }
  if (chatId === state.active) scrollDown();
}

let toastTimer = null;
function toast(text) {
  const box = $('toast');
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, 3500);
}

function connect() {
  const events = new EventSource('/api/events');
  events.onopen = () => {
    $('connection').textContent = 'live';
    $('connection').className = 'pill live';
  };
  events.onerror = () => {
    $('connection').textContent = 'reconnecting…';
    $('connection').className = 'pill down';
  };
  // The browser resumes after the last seen id (Last-Event-ID): nothing is applied twice.
  events.onmessage = (event) => apply(JSON.parse(event.data));
}

// ---------- actions ----------

function sendText(text) {
  if (state.active === null || !text.trim()) return;
  api(`/api/users/${state.active}/text`, { text }).catch(() => {});
}

function shareLocation(latitude, longitude, label) {
  if (state.active === null) return;
  $('location-panel').hidden = true;
  api(`/api/users/${state.active}/location`, { latitude, longitude, label }).catch(() => {});
}

function renderCommands() {
  const panel = $('commands-panel');
  panel.replaceChildren();
  const commands = state.commands.length ? state.commands : [{ command: 'start', description: 'Start' }];
  for (const { command, description } of commands) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = `/${command} — ${description}`;
    button.addEventListener('click', () => {
      panel.hidden = true;
      sendText(`/${command}`);
    });
    panel.appendChild(button);
  }
}

async function init() {
  const initial = await api('/api/state');
  state.botUsername = initial.bot.username;
  state.commands = initial.commands || [];
  state.places = initial.places || [];
  $('storage').textContent = initial.storage;
  for (const user of initial.users) addUser(user);
  for (const place of state.places) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = place.name;
    button.addEventListener('click', () => shareLocation(place.latitude, place.longitude, place.name));
    $('places').appendChild(button);
  }
  renderCommands();
  if (initial.users.length) selectUser(initial.users[0].id);

  $('composer').addEventListener('submit', (event) => {
    event.preventDefault();
    sendText($('text').value);
    $('text').value = '';
  });
  $('attach-location').addEventListener('click', () => {
    $('location-panel').hidden = !$('location-panel').hidden;
    $('commands-panel').hidden = true;
  });
  $('attach-photo').addEventListener('click', () => {
    if (state.active !== null) api(`/api/users/${state.active}/photo`, {}).catch(() => {});
  });
  $('menu').addEventListener('click', async () => {
    const fresh = await api('/api/state').catch(() => null);
    if (fresh) state.commands = fresh.commands || [];
    renderCommands();
    $('commands-panel').hidden = !$('commands-panel').hidden;
    $('location-panel').hidden = true;
  });
  $('manual-location').addEventListener('submit', (event) => {
    event.preventDefault();
    shareLocation(Number($('latitude').value), Number($('longitude').value), null);
  });
  $('new-user-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const user = await api('/api/users', {
      first_name: $('new-user-name').value,
      language_code: $('new-user-language').value,
    }).catch(() => null);
    $('new-user-name').value = '';
    if (user) {
      addUser(user);
      selectUser(user.id);
    }
  });
  connect();
}

init().catch((error) => toast(`The sandbox did not answer: ${error.message}`));
