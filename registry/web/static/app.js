/* yima pages: scan inputs (keyboard-wedge scanners, Chinese IME, camera) and the item card.
 *
 * A handheld scanner "types" the code fast and ends with Enter. With a Chinese input
 * method on, the keystrokes land in a composition and the Enter only commits it, so
 * the scan is finished at compositionend instead. Full-width characters (what an IME
 * in full-width mode produces) become half-width; the server normalises again anyway.
 */
(function () {
  "use strict";
  var T = window.I18N || {};
  var lang = document.documentElement.lang || "zh-CN";

  function halfWidth(s) {
    return s
      .replace(/[\uFF01-\uFF5E]/g, function (c) { return String.fromCharCode(c.charCodeAt(0) - 0xFEE0); })
      .replace(/\u3000/g, " ")
      .replace(/\u3002/g, ".")   // 。 full stop typed for "."
      .replace(/\u3001/g, "/")   // 、 typed for "/" or "\"
      .replace(/[\u2014\u2015\u2013]/g, "-");
  }

  function normalise(s) {
    return halfWidth(s || "").replace(/\s+/g, "");
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function cardFor(input) {
    var box = input.closest(".scan");
    return box ? box.querySelector(".itemcard") : null;
  }

  function render(input, a) {
    var card = cardFor(input);
    if (!card) return;
    card.textContent = "";
    var want = input.getAttribute("data-kind");
    var v = el("div", "v " + (a.genuine ? "ok" : "bad"),
      a.genuine ? "\u2714 " + (a.source === "code" ? T.genuine : T.found) : "\u2718 " + T.forged);
    card.appendChild(v);
    var dl = el("dl");
    function row(k, val) {
      if (val === undefined || val === null || val === "") return;
      dl.appendChild(el("dt", null, k));
      dl.appendChild(el("dd", null, val));
    }
    function warn(text) { dl.appendChild(el("div", "w", "\u26A0 " + text)); }
    if (!a.genuine) {
      row(T.reason, a.message);
    } else {
      if (want && a.kind && want !== a.kind) {
        warn(T.wrong_kind.replace("%(got)s", T.kinds[a.kind] || a.kind).replace("%(want)s", T.kinds[want] || want));
      }
      row(T.kind, T.kinds[a.kind] || a.kind);
      row(T.identifier, a.identifier);
      row(T.model, a.model);
      row(T.maker, a.maker);
      row(T.state, T.states[a.state] || a.state);
      row(T.produced, a.produced_on);
      if (a.kind === "battery" && a.battery_age_days !== null && a.battery_age_days !== undefined) {
        row(T.age, T.days.replace("%(n)s", a.battery_age_days));
      }
      var f = a.flags || {};
      if (f.recalled) warn(T.recalled);
      if (f.stolen) warn(T.stolen);
      if (f.reused) warn(T.reused);
      if (f.backfilled) warn(T.backfilled);
      if (a.kind === "battery" && a.battery_age_days !== null && a.battery_age_days >= 5 * 365) warn(T.old_battery);
    }
    card.appendChild(dl);
  }

  var pending = new WeakMap();

  function lookup(input) {
    var value = normalise(input.value);
    var card = cardFor(input);
    if (!card) return;
    if (!value) { card.textContent = ""; return; }
    if (pending.get(input) === value) return;
    pending.set(input, value);
    card.textContent = "";
    card.appendChild(el("div", "v wait", T.checking));
    fetch("/api/v1/codes?q=" + encodeURIComponent(value), {
      headers: {"Accept": "application/json", "Accept-Language": lang},
      credentials: "same-origin"
    }).then(function (r) {
      if (!r.ok) throw new Error(String(r.status));
      return r.json();
    }).then(function (a) {
      if (normalise(input.value) === value) render(input, a);
    }).catch(function () {
      pending.delete(input);
      card.textContent = "";
      card.appendChild(el("div", "v bad", T.network_error));
    });
  }

  function fields(form) {
    return Array.prototype.slice.call(form.querySelectorAll("input:not([type=hidden]):not([disabled]),select,textarea"));
  }

  /* A scan is complete: show its card and go on to the next empty field (or submit). */
  function finish(input) {
    input.value = normalise(input.value);
    lookup(input);
    var form = input.form;
    if (!form) return;
    var scans = Array.prototype.slice.call(form.querySelectorAll("input.scan-input:not([disabled])"));
    var next = scans.slice(scans.indexOf(input) + 1).filter(function (s) { return !s.value; })[0];
    if (next) { next.focus(); return; }
    var auto = form.querySelector("[data-autosubmit]");
    if (auto) {
      if (form.requestSubmit) form.requestSubmit(auto); else auto.click();
      return;
    }
    var all = fields(form);
    var after = all.slice(all.indexOf(input) + 1).filter(function (f) { return !f.value && !f.classList.contains("scan-input"); })[0];
    if (after) { after.focus(); return; }
    var submit = form.querySelector("button[type=submit],button:not([type])");
    if (submit) submit.focus();
  }

  function wire(input) {
    var composing = false, enterInComposition = false, timer = null;
    input.addEventListener("compositionstart", function () { composing = true; });
    input.addEventListener("compositionend", function () {
      composing = false;
      // The IME has committed what the scanner typed; the Enter that ended the scan went to the IME.
      setTimeout(function () {
        input.value = normalise(input.value);
        if (enterInComposition) { enterInComposition = false; finish(input); }
      }, 0);
    });
    input.addEventListener("keydown", function (e) {
      var enter = e.key === "Enter" || e.keyCode === 13;
      if (e.isComposing || e.keyCode === 229 || composing) {
        if (enter || e.key === "Process") enterInComposition = enterInComposition || enter;
        return;
      }
      if (enter) { e.preventDefault(); finish(input); }
    });
    input.addEventListener("input", function () {
      if (composing) return;
      var v = halfWidth(input.value);
      if (v !== input.value) input.value = v;
      clearTimeout(timer);
      timer = setTimeout(function () { if (normalise(input.value).length >= 8) lookup(input); }, 600);
    });
    input.addEventListener("change", function () { input.value = normalise(input.value); lookup(input); });
    if (input.value) lookup(input);
  }

  /* --- camera: BarcodeDetector where the browser has it, else the jsQR the registry serves --- */

  var overlay = null, stream = null, running = false;

  function loadJsQR() {
    return new Promise(function (resolve, reject) {
      if (window.jsQR) return resolve(window.jsQR);
      var s = document.createElement("script");
      s.src = "/vendor/jsQR.js";
      s.onload = function () { window.jsQR ? resolve(window.jsQR) : reject(new Error("jsQR")); };
      s.onerror = reject;
      document.head.appendChild(s);
    });
  }

  function stopCamera() {
    running = false;
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null;
    if (overlay) overlay.hidden = true;
  }

  function ensureOverlay() {
    if (overlay) return overlay;
    overlay = el("div");
    overlay.id = "camera";
    overlay.hidden = true;
    var video = el("video");
    video.setAttribute("playsinline", "");
    video.muted = true;
    var msg = el("p", null, T.camera_hint);
    var close = el("button", "secondary", T.camera_close);
    close.type = "button";
    close.addEventListener("click", stopCamera);
    overlay.appendChild(video);
    overlay.appendChild(msg);
    overlay.appendChild(close);
    document.body.appendChild(overlay);
    return overlay;
  }

  function startCamera(input) {
    var box = ensureOverlay();
    var video = box.querySelector("video");
    var msg = box.querySelector("p");
    msg.textContent = T.camera_hint;
    box.hidden = false;
    navigator.mediaDevices.getUserMedia({video: {facingMode: "environment"}, audio: false}).then(function (s) {
      stream = s;
      video.srcObject = s;
      return video.play();
    }).then(function () {
      running = true;
      var done = function (text) {
        stopCamera();
        input.value = normalise(text);
        finish(input);
      };
      if ("BarcodeDetector" in window) {
        var detector = new window.BarcodeDetector({formats: ["qr_code"]});
        var tick = function () {
          if (!running) return;
          detector.detect(video).then(function (codes) {
            if (codes.length && codes[0].rawValue) done(codes[0].rawValue); else setTimeout(tick, 150);
          }).catch(function () { setTimeout(tick, 300); });
        };
        tick();
      } else {
        loadJsQR().then(function (jsQR) {
          var canvas = document.createElement("canvas");
          var ctx = canvas.getContext("2d", {willReadFrequently: true});
          var tick = function () {
            if (!running) return;
            if (video.videoWidth) {
              var scale = Math.min(1, 640 / video.videoWidth);
              canvas.width = Math.round(video.videoWidth * scale);
              canvas.height = Math.round(video.videoHeight * scale);
              ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
              var img = ctx.getImageData(0, 0, canvas.width, canvas.height);
              var code = jsQR(img.data, img.width, img.height, {inversionAttempts: "dontInvert"});
              if (code && code.data) return done(code.data);
            }
            setTimeout(tick, 120);
          };
          tick();
        }).catch(function () { msg.textContent = T.camera_none; });
      }
    }).catch(function () {
      msg.textContent = T.camera_none;
    });
  }

  /* Parts of a form that matter only for one choice: data-show-when="name=value". */
  function toggles() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-show-when]"), function (box) {
      var rule = box.getAttribute("data-show-when").split("=");
      var form = box.closest("form") || document;
      var chosen = form.querySelector('[name="' + rule[0] + '"]:checked') || form.querySelector('select[name="' + rule[0] + '"]');
      var on = !!chosen && chosen.value === rule[1];
      box.hidden = !on;
      Array.prototype.forEach.call(box.querySelectorAll("input,select,textarea"), function (f) { f.disabled = !on; });
    });
  }
  document.addEventListener("change", function (e) {
    if (e.target && e.target.name && document.querySelector('[data-show-when^="' + e.target.name + '="]')) toggles();
  });

  document.addEventListener("DOMContentLoaded", function () {
    toggles();
    var inputs = document.querySelectorAll("input.scan-input");
    Array.prototype.forEach.call(inputs, wire);
    var camera = !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
    Array.prototype.forEach.call(document.querySelectorAll("button.cam"), function (b) {
      if (!camera) return;
      b.hidden = false;
      b.addEventListener("click", function () {
        var input = b.closest(".scan").querySelector("input.scan-input");
        startCamera(input);
      });
    });
    // Focus the first empty scan field (a scanner types wherever the focus is).
    var first = document.querySelector("[autofocus]") ||
      Array.prototype.filter.call(inputs, function (i) { return !i.value; })[0];
    if (first && document.activeElement === document.body) first.focus();
    // On a phone the menu scrolls sideways: show the current task.
    var current = document.querySelector(".tasks a.on");
    if (current && current.scrollIntoView) current.scrollIntoView({block: "nearest", inline: "center"});
    // Print buttons
    Array.prototype.forEach.call(document.querySelectorAll("[data-print]"), function (b) {
      b.addEventListener("click", function () { window.print(); });
    });
  });

  window.yima = {normalise: normalise, halfWidth: halfWidth};
})();
