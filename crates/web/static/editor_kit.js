// What the tree and segment-set editors share: building elements, buttons whose labels name the
// item they belong to (kept current as its name is typed), and JSON calls to the API with the
// session's CSRF token. Loaded before either editor's own script.
window.LodestarEditor = (function () {
  'use strict';

  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute('content') : '';

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // `aria` may hold `{}`: the name of the item it belongs to, filled in by `relabel`.
  function named(e, aria) {
    if (aria.indexOf('{}') >= 0) e.setAttribute('data-label', aria);
    e.setAttribute('aria-label', aria);
  }

  function button(label, aria, onClick) {
    var b = el('button', 'btn small', label);
    b.type = 'button';
    named(b, aria);
    b.addEventListener('click', onClick);
    return b;
  }

  // Re-labels the controls of one item after its name changed.
  function relabel(item, name) {
    Array.prototype.forEach.call(item.querySelectorAll('[data-label]'), function (e) {
      e.setAttribute('aria-label', e.getAttribute('data-label').replace('{}', name));
    });
  }

  // A JSON call; resolves to {ok, status, data} whatever the status.
  function send(method, url, payload) {
    return fetch(url, {
      method: method,
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json', 'X-CSRF-Token': csrf },
      body: payload === undefined ? undefined : JSON.stringify(payload)
    }).then(function (resp) {
      return resp.text().then(function (t) {
        var data = {};
        try { data = t ? JSON.parse(t) : {}; } catch (err) { data = { message: t }; }
        return { ok: resp.ok, status: resp.status, data: data };
      });
    });
  }

  return { el: el, named: named, button: button, relabel: relabel, send: send };
})();
