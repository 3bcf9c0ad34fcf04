// Aisle storefront: posts clicks, add-to-cart and purchases as events,
// suggests as you type, refreshes the dashboard's live table.
"use strict";
(function () {
  function post(ev) {
    return fetch("/ui/events", {
      method: "POST", credentials: "same-origin", keepalive: true,
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(ev)
    });
  }

  // Clicks on products in a row: the event goes out while the browser follows the link.
  document.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest("a[data-item]");
    if (!a) return;
    var ev = { type: "click", item_id: a.getAttribute("data-item"), list: a.getAttribute("data-list") || "" };
    if (a.getAttribute("data-request-id")) { // ties the click to its answer (ad billing)
      ev.request_id = a.getAttribute("data-request-id");
      ev.position = parseInt(a.getAttribute("data-position"), 10) || 0;
    }
    post(ev);
  });

  // Add to cart and buy.
  var status = document.getElementById("status");
  var said = { add_to_cart: "Added to your cart.", purchase: "Thank you: your purchase is recorded." };
  document.querySelectorAll("button[data-event]").forEach(function (b) {
    b.addEventListener("click", function () {
      var type = b.getAttribute("data-event");
      b.disabled = true;
      post({ type: type, item_id: b.getAttribute("data-item") }).then(function (r) {
        if (!r.ok) throw new Error("the server answered " + r.status);
        if (status) status.textContent = said[type];
        document.body.setAttribute("data-last-event", type);
      }).catch(function (err) {
        if (status) status.textContent = "Could not record that: " + err.message;
      }).finally(function () { b.disabled = false; });
    });
  });

  // Product images that fail to load become the lettered placeholder.
  document.querySelectorAll("img.pic").forEach(function (img) {
    img.addEventListener("error", function () {
      var s = document.createElement("span");
      s.className = "pic ph h0";
      s.setAttribute("aria-hidden", "true");
      s.textContent = img.getAttribute("data-initials") || "";
      img.replaceWith(s);
    });
  });

  // Search as you type.
  var q = document.getElementById("q");
  var list = document.getElementById("q-suggestions");
  if (q && list && q.getAttribute("data-suggest")) {
    var timer = null, last = "";
    q.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var v = q.value.trim();
        if (v === last || v.length < 2) return;
        last = v;
        fetch(q.getAttribute("data-suggest") + "?q=" + encodeURIComponent(v), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : { suggestions: [] }; })
          .then(function (d) {
            list.replaceChildren();
            (d.suggestions || []).forEach(function (s) {
              var o = document.createElement("option");
              o.value = s;
              list.appendChild(o);
            });
          }).catch(function () {});
      }, 150);
    });
  }

  // The dashboard's live table, every 5 seconds.
  var live = document.getElementById("live");
  if (live && live.getAttribute("data-src")) {
    setInterval(function () {
      fetch(live.getAttribute("data-src"), { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { if (r.ok) return r.text(); throw new Error(); })
        .then(function (html) { live.innerHTML = html; })
        .catch(function () {});
    }, 5000);
  }

  // "Starting" pages reload until the server is ready.
  var wait = document.querySelector("[data-reload]");
  if (wait) setTimeout(function () { location.reload(); }, 1000 * Number(wait.getAttribute("data-reload")));
})();
