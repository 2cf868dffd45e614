// Chronicle console: the co-editor of a document, a client of the co-editing socket
// (api/http/document_socket.py). Ops are text-unicode's: retain n, insert "text", delete
// {d: n}, counted in code points; transform() is domain/text_ot.py's, and an op from
// another editor is transformed past the edits not acknowledged yet as
// clients/documents.py does ("left" for ours, "right" for theirs). One op is in flight at
// a time; later edits wait in order. Other editors' cursors are drawn in a mirror of the
// text with DOM nodes (their names as text), never as HTML.
"use strict";

const points = (text) => Array.from(text);
const preLength = (c) => (typeof c === "number" ? c : typeof c === "string" ? 0 : c.d);

function builder() {
  const op = [];
  return {
    add(c) {
      if (typeof c === "number" ? c === 0 : typeof c === "string" ? c === "" : c.d === 0) return;
      const last = op[op.length - 1];
      if (typeof c === "number" && typeof last === "number") op[op.length - 1] = last + c;
      else if (typeof c === "string" && typeof last === "string") op[op.length - 1] = last + c;
      else if (typeof c === "object" && last !== undefined && typeof last === "object") {
        op[op.length - 1] = { d: last.d + c.d };
      } else op.push(typeof c === "object" ? { d: c.d } : c);
    },
    build() {
      if (typeof op[op.length - 1] === "number") op.pop();
      return op;
    },
  };
}

// Takes an op's components a piece at a time; inserts whole. Past its end: retains.
function reader(op) {
  let index = 0;
  let offset = 0;
  const piece = (most) => {
    const c = op[index];
    const start = offset;
    if (typeof c === "string") {
      index += 1;
      offset = 0;
      return c;
    }
    const whole = typeof c === "number" ? c : c.d;
    let end = whole;
    if (most !== null && whole - start > most) {
      offset += most;
      end = offset;
    } else {
      index += 1;
      offset = 0;
    }
    return typeof c === "number" ? end - start : { d: end - start };
  };
  return {
    peek: () => (index < op.length ? op[index] : null),
    take: (most) => (index === op.length ? most : piece(most)),
    takeRest: () => (index === op.length ? null : piece(null)),
  };
}

function transform(op, other, side) {
  const out = builder();
  const ops = reader(op);
  for (const c of other) {
    if (typeof c === "number") {
      let length = c;
      while (length > 0) {
        const p = ops.take(length);
        out.add(p);
        if (typeof p !== "string") length -= preLength(p);
      }
    } else if (typeof c === "string") {
      const ahead = ops.peek();
      if (side === "left" && typeof ahead === "string") out.add(ops.takeRest());
      out.add(points(c).length);
    } else {
      let length = c.d;
      while (length > 0) {
        const p = ops.take(length);
        if (typeof p === "string") out.add(p);
        else length -= preLength(p);
      }
    }
  }
  for (let rest = ops.takeRest(); rest !== null; rest = ops.takeRest()) out.add(rest);
  return out.build();
}

function apply(doc, op) {
  const made = [];
  let at = 0;
  for (const c of op) {
    if (typeof c === "number") {
      made.push(...doc.slice(at, at + c));
      at += c;
    } else if (typeof c === "string") made.push(...points(c));
    else at += c.d;
  }
  return made.concat(doc.slice(at));
}

function transformCursor(cursor, op) {
  let at = 0;
  for (const c of op) {
    if (cursor <= at) break;
    if (typeof c === "number") at += c;
    else if (typeof c === "string") {
      const length = points(c).length;
      at += length;
      cursor += length;
    } else cursor -= Math.min(c.d, cursor - at);
  }
  return cursor;
}

// The op that makes `after` of `before` (one changed stretch: what typing and pasting do).
function diff(before, after) {
  let start = 0;
  while (start < before.length && start < after.length && before[start] === after[start]) {
    start += 1;
  }
  let end = 0;
  while (
    end < before.length - start && end < after.length - start &&
    before[before.length - 1 - end] === after[after.length - 1 - end]
  ) end += 1;
  const out = builder();
  out.add(start);
  out.add(after.slice(start, after.length - end).join(""));
  out.add({ d: before.length - start - end });
  return out.build();
}

function coEdit(root) {
  const area = root.querySelector("textarea");
  const status = root.querySelector("[data-editor-status]");
  const shownRevision = root.querySelector("[data-revision]");
  const list = root.querySelector("[data-editors]");
  const mirror = root.querySelector("[data-mirror]");
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${window.location.host}${root.dataset.editor}`);
  const others = new Map(); // client id -> {name, color, cursor}
  let doc = points(area.value);
  let revision = 0;
  let clientId = "";
  let inflight = null;
  let waiting = []; // edits made after the one in flight, in order
  let seq = 0;
  let presenceTimer = null;

  const say = (text) => { status.textContent = text; };
  const colorOf = (id) => [...id].reduce((sum, ch) => sum + ch.charCodeAt(0), 0) % 6;
  const toPoints = (units) => points(area.value.slice(0, units)).length;
  const toUnits = (at) => doc.slice(0, at).join("").length;

  const send = (frame) => socket.send(JSON.stringify(frame));
  const submit = () => {
    seq += 1;
    send({ op: inflight, base_revision: revision, seq });
  };
  const sendPresence = () => {
    clearTimeout(presenceTimer);
    presenceTimer = setTimeout(() => {
      if (inflight || socket.readyState !== WebSocket.OPEN) return; // sent once all is acknowledged
      const start = toPoints(area.selectionStart);
      const end = toPoints(area.selectionEnd);
      const name = `${root.dataset.name}·${clientId.slice(0, 4)}`;
      send({ presence: { cursor: { index: start, length: end - start }, name, color: `c${colorOf(clientId)}` }, revision });
    }, 80);
  };

  const draw = () => {
    list.replaceChildren();
    mirror.replaceChildren();
    const carets = [];
    for (const [id, editor] of others) {
      const item = document.createElement("li");
      const dot = document.createElement("span");
      dot.className = `dot color-${colorOf(id)}`;
      item.append(dot, editor.name || editor.user || id);
      list.append(item);
      if (editor.cursor) carets.push([Math.min(editor.cursor, doc.length), id, editor]);
    }
    if (!others.size) {
      const alone = document.createElement("li");
      alone.className = "quiet";
      alone.textContent = "Only you.";
      list.append(alone);
    }
    carets.sort((a, b) => a[0] - b[0]);
    let at = 0;
    for (const [index, id, editor] of carets) {
      mirror.append(doc.slice(at, index).join(""));
      const caret = document.createElement("span");
      caret.className = `caret color-${colorOf(id)}`;
      caret.dataset.name = editor.name || editor.user || id;
      caret.dataset.client = id;
      caret.title = caret.dataset.name;
      mirror.append(caret);
      at = index;
    }
    mirror.append(doc.slice(at).join(""));
  };

  // Another editor's cursor, given on `revision`, moved past our edits not acknowledged.
  const place = (cursor) => {
    if (!cursor) return null;
    let at = cursor.index + cursor.length;
    for (const op of [inflight, ...waiting]) if (op) at = transformCursor(at, op);
    return at;
  };
  const present = (editor) => {
    if (editor.client_id === clientId) return;
    if (editor.state === "left") others.delete(editor.client_id);
    else others.set(editor.client_id, { ...editor, cursor: place(editor.cursor) });
  };

  const theirs = (op) => {
    let incoming = op;
    if (inflight) [inflight, incoming] = [transform(inflight, incoming, "left"), transform(incoming, inflight, "right")];
    waiting = waiting.map((mine) => {
      const moved = transform(mine, incoming, "left");
      incoming = transform(incoming, mine, "right");
      return moved;
    });
    const start = transformCursor(toPoints(area.selectionStart), incoming);
    const end = transformCursor(toPoints(area.selectionEnd), incoming);
    for (const editor of others.values()) {
      if (editor.cursor !== null) editor.cursor = transformCursor(editor.cursor, incoming);
    }
    doc = apply(doc, incoming);
    area.value = doc.join("");
    area.setSelectionRange(toUnits(start), toUnits(end));
  };

  socket.addEventListener("message", (message) => {
    const frames = [].concat(JSON.parse(message.data));
    for (const frame of frames) {
      if (frame.type === "welcome") {
        clientId = frame.client_id;
        revision = frame.revision;
        doc = points(frame.content ?? area.value);
        area.value = doc.join("");
        frame.presence.forEach(present);
        area.disabled = false;
        say("Editing live.");
        sendPresence();
      } else if (frame.type === "ack") {
        revision = frame.revision;
        inflight = waiting.shift() ?? null;
        if (inflight) submit();
        else sendPresence();
      } else if (frame.type === "op") {
        revision = frame.revision;
        theirs(frame.op);
      } else if (frame.type === "presence") {
        present(frame);
      } else if (frame.type === "error" || frame.type === "resync") {
        say("The document changed under this page: reloading.");
        setTimeout(() => window.location.reload(), 800);
      }
    }
    shownRevision.textContent = String(revision);
    draw();
  });
  socket.addEventListener("close", () => {
    area.disabled = true;
    say("Disconnected: reload the page to edit again.");
  });

  area.addEventListener("input", () => {
    const now = points(area.value);
    const op = diff(doc, now);
    doc = now;
    if (op.length) {
      for (const editor of others.values()) {
        if (editor.cursor !== null) editor.cursor = transformCursor(editor.cursor, op);
      }
      if (inflight) waiting.push(op);
      else {
        inflight = op;
        submit();
      }
    }
    draw();
  });
  for (const event of ["select", "keyup", "click", "focus"]) area.addEventListener(event, sendPresence);
}

document.querySelectorAll("[data-editor]").forEach(coEdit);
