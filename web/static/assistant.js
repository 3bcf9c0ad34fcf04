// Aisle storefront: the shopping assistant's chat panel, on every page.
// It streams answers from POST /ui/assistant (server-sent events over
// fetch), shows product cards that open the product page, with an add to
// cart button, and keeps the conversation across pages of this tab.
"use strict";
(function () {
  var KEY = "aisle-assistant";
  var state = { id: "", log: [] };
  try { state = JSON.parse(sessionStorage.getItem(KEY)) || state; } catch (e) {}
  function save() {
    try { sessionStorage.setItem(KEY, JSON.stringify({ id: state.id, log: state.log.slice(-20), open: state.open })); } catch (e) {}
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  var toggle = el("button", "chat-toggle", "Ask the assistant");
  toggle.type = "button";
  toggle.setAttribute("aria-controls", "chat");
  var panel = el("section", "chat");
  panel.id = "chat";
  panel.setAttribute("aria-label", "Shopping assistant");
  panel.hidden = true;
  var head = el("header", "chat-head");
  head.appendChild(el("strong", null, "Shopping assistant"));
  var close = el("button", "chat-close", "×");
  close.type = "button";
  close.setAttribute("aria-label", "Close the assistant");
  head.appendChild(close);
  var log = el("div", "chat-log");
  log.setAttribute("aria-live", "polite");
  var chips = el("div", "chat-chips");
  var form = el("form", "chat-form");
  var input = el("input");
  input.id = "chat-input";
  input.name = "message";
  input.autocomplete = "off";
  input.placeholder = "e.g. a Brother label maker under $40";
  input.setAttribute("aria-label", "Your message");
  var send = el("button", "primary", "Send");
  send.type = "submit";
  form.appendChild(input);
  form.appendChild(send);
  panel.appendChild(head);
  panel.appendChild(log);
  panel.appendChild(chips);
  panel.appendChild(form);
  document.body.appendChild(toggle);
  document.body.appendChild(panel);

  function open(v) {
    panel.hidden = !v;
    toggle.hidden = v;
    state.open = v;
    save();
    if (v) input.focus();
  }
  toggle.addEventListener("click", function () { open(true); });
  close.addEventListener("click", function () { open(false); });

  // Where a product was shown: the answer's request id (known when "done"
  // arrives, after the cards) and its 1-based position, sent back on the
  // click (app.js reads data-request-id/data-position and remembers them
  // for the product page's cart and purchase) and on the panel's cart, so
  // they are attributed to the assistant's answer.
  function mark(ul, rq) {
    if (!rq) return;
    ul.setAttribute("data-request-id", rq);
    ul.querySelectorAll("a[data-item]").forEach(function (a) { a.setAttribute("data-request-id", rq); });
  }
  function cards(products, rq) {
    var ul = el("ul", "chat-cards");
    (products || []).forEach(function (p, i) {
      var li = el("li", "chat-card");
      li.setAttribute("data-item", p.id);
      if (p.image_url) {
        var img = el("img", "chat-pic");
        img.src = p.image_url;
        img.alt = "";
        img.loading = "lazy";
        img.addEventListener("error", function () { img.remove(); });
        li.appendChild(img);
      }
      var a = el("a", null, p.title);
      a.href = p.url || ("/items/" + encodeURIComponent(p.id));
      a.setAttribute("data-item", p.id);
      a.setAttribute("data-list", "assistant");
      a.setAttribute("data-position", String(i + 1));
      li.appendChild(a);
      var meta = [p.brand, p.category].filter(Boolean).join(" · ");
      if (p.price != null) meta += (meta ? " · " : "") + "$" + Number(p.price).toFixed(2);
      if (meta) li.appendChild(el("span", "meta", meta));
      if (p.why) li.appendChild(el("span", "reason", p.why));
      var b = el("button", "chat-cart", "Add to cart");
      b.type = "button";
      b.addEventListener("click", function () {
        b.disabled = true;
        fetch("/ui/events", { method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
          body: JSON.stringify(shown({ type: "add_to_cart", item_id: p.id, list: "assistant" }, ul, i + 1)) })
          .then(function (r) { if (!r.ok) throw new Error(r.status); b.textContent = "Added"; document.body.setAttribute("data-last-event", "add_to_cart"); })
          .catch(function () { b.textContent = "Could not add"; b.disabled = false; });
      });
      li.appendChild(b);
      ul.appendChild(li);
    });
    mark(ul, rq);
    return ul;
  }
  function shown(ev, ul, pos) {
    var rq = ul.getAttribute("data-request-id");
    if (rq) { ev.request_id = rq; ev.position = pos; }
    return ev;
  }

  function bubble(who, text) {
    var m = el("div", "chat-msg " + who);
    var t = el("div", "chat-text", text);
    m.appendChild(t);
    log.appendChild(m);
    log.scrollTop = log.scrollHeight;
    return m;
  }

  function showChips(list) {
    chips.replaceChildren();
    (list || []).slice(0, 4).forEach(function (s) {
      var c = el("button", "chat-chip", s);
      c.type = "button";
      c.addEventListener("click", function () { ask(s); });
      chips.appendChild(c);
    });
  }

  // replay this tab's conversation
  state.log = state.log || [];
  state.log.forEach(function (e) {
    var m = bubble(e.who, e.text);
    if (e.products && e.products.length) m.appendChild(cards(e.products, e.request_id));
  });
  if (state.open) open(true);

  function ask(text) {
    text = text.trim();
    if (!text) return;
    bubble("me", text);
    state.log.push({ who: "me", text: text });
    input.value = "";
    send.disabled = true;
    var m = bubble("bot", "");
    var t = m.querySelector(".chat-text");
    m.setAttribute("aria-busy", "true");
    var reply = "", products = [], ul = null, rq = "";
    fetch("/ui/assistant", { method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json", "Accept": "text/event-stream" },
      body: JSON.stringify({ message: text, conversation_id: state.id }) })
      .then(function (r) {
        if (!r.ok || !r.body) return r.text().then(function (s) { throw new Error(s || ("the server answered " + r.status)); });
        var reader = r.body.getReader(), dec = new TextDecoder(), buf = "";
        function pump() {
          return reader.read().then(function (res) {
            if (res.done) return;
            buf += dec.decode(res.value, { stream: true });
            var i;
            while ((i = buf.indexOf("\n\n")) >= 0) {
              var block = buf.slice(0, i); buf = buf.slice(i + 2);
              var ev = "message", data = "";
              block.split("\n").forEach(function (line) {
                if (line.indexOf("event: ") === 0) ev = line.slice(7);
                else if (line.indexOf("data: ") === 0) data += line.slice(6);
              });
              var d = data ? JSON.parse(data) : null;
              if (ev === "text") { reply += d.text; t.textContent = reply; }
              else if (ev === "reset") { reply = ""; t.textContent = ""; }
              else if (ev === "products") { products = d; ul = cards(d); m.appendChild(ul); }
              else if (ev === "done") { state.id = d.conversation_id; rq = d.request_id || ""; if (ul) mark(ul, rq); showChips(d.suggestions); if (d.reply !== reply) { reply = d.reply; t.textContent = reply; } }
              else if (ev === "error") { throw new Error(d.error); }
              log.scrollTop = log.scrollHeight;
            }
            return pump();
          });
        }
        return pump();
      })
      .catch(function (err) { reply = reply || ("Sorry: " + err.message); t.textContent = reply; })
      .finally(function () {
        m.removeAttribute("aria-busy");
        send.disabled = false;
        state.log.push({ who: "bot", text: reply, products: products, request_id: rq });
        save();
        document.body.setAttribute("data-assistant-turns", String(state.log.length / 2));
      });
  }
  form.addEventListener("submit", function (e) { e.preventDefault(); ask(input.value); });
})();
