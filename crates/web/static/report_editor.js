// The report editor: picks KPIs from the catalog (with search), orders them (drag and drop, or
// the ↑ ↓ buttons with the keyboard), keeps a target per KPI, and saves the definition with
// PUT /api/v1/reports/{slug}. The API checks it; its error is shown next to the field it names.
(function () {
  'use strict';

  var byId = function (id) { return document.getElementById(id); };
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute('content') : '';
  var form = byId('editor');
  var picked = byId('picked');
  var catalog = byId('catalog');
  var dragged = null;

  function text(tag, value, cls) {
    var el = document.createElement(tag);
    el.textContent = value;
    if (cls) el.className = cls;
    return el;
  }

  function bound(label, key, which, value) {
    var wrap = document.createElement('label');
    wrap.className = 'bound';
    wrap.appendChild(document.createTextNode(label + ' '));
    var input = document.createElement('input');
    input.type = 'number';
    input.step = 'any';
    input.size = 6;
    input.className = 'bound-' + which;
    input.value = value || '';
    input.setAttribute('aria-label', label + ' for ' + key);
    wrap.appendChild(input);
    return wrap;
  }

  function move(li, delta) {
    var items = Array.prototype.slice.call(picked.children);
    var i = items.indexOf(li);
    var j = i + delta;
    if (j < 0 || j >= items.length) return;
    if (delta < 0) picked.insertBefore(li, items[j]);
    else picked.insertBefore(li, items[j].nextSibling);
  }

  function item(key, name, min, max) {
    var li = document.createElement('li');
    li.draggable = true;
    li.setAttribute('data-key', key);
    li.appendChild(text('span', name, 'picked-name'));
    var tools = document.createElement('span');
    tools.className = 'picked-tools';
    tools.appendChild(bound('at least', key, 'min', min));
    tools.appendChild(bound('at most', key, 'max', max));
    [['↑', -1, 'Move ' + name + ' up'], ['↓', 1, 'Move ' + name + ' down']].forEach(function (b) {
      var btn = text('button', b[0], 'btn');
      btn.type = 'button';
      btn.setAttribute('aria-label', b[2]);
      btn.addEventListener('click', function () { move(li, b[1]); btn.focus(); });
      tools.appendChild(btn);
    });
    li.appendChild(tools);
    li.addEventListener('dragstart', function () { dragged = li; li.classList.add('dragging'); });
    li.addEventListener('dragend', function () { dragged = null; li.classList.remove('dragging'); });
    li.addEventListener('dragover', function (e) {
      e.preventDefault();
      if (!dragged || dragged === li) return;
      var box = li.getBoundingClientRect();
      var after = e.clientY > box.top + box.height / 2;
      picked.insertBefore(dragged, after ? li.nextSibling : li);
    });
    return li;
  }

  function find(key) {
    return Array.prototype.find.call(picked.children, function (li) { return li.getAttribute('data-key') === key; });
  }

  // The picked KPIs as the page came, in their order.
  Array.prototype.slice.call(catalog.querySelectorAll('li[data-picked]'))
    .sort(function (a, b) { return a.getAttribute('data-picked') - b.getAttribute('data-picked'); })
    .forEach(function (li) {
      picked.appendChild(item(li.getAttribute('data-key'), li.getAttribute('data-name'),
        li.getAttribute('data-min'), li.getAttribute('data-max')));
    });

  catalog.addEventListener('change', function (e) {
    var box = e.target;
    if (box.type !== 'checkbox') return;
    var li = box.closest('li');
    var key = li.getAttribute('data-key');
    var existing = find(key);
    if (box.checked && !existing) picked.appendChild(item(key, li.getAttribute('data-name'), '', ''));
    if (!box.checked && existing) existing.remove();
  });

  byId('search').addEventListener('input', function (e) {
    var q = e.target.value.trim().toLowerCase();
    Array.prototype.forEach.call(catalog.children, function (li) {
      var hay = (li.getAttribute('data-name') + ' ' + li.getAttribute('data-key')).toLowerCase();
      li.hidden = q !== '' && hay.indexOf(q) < 0;
    });
  });

  function showError(field, message) {
    ['slug', 'title', 'kpis', 'targets'].forEach(function (f) {
      var el = byId(f + '-error');
      if (el) { el.hidden = true; el.textContent = ''; }
    });
    if (!field) return;
    var name = field.split('.')[0];
    var el = byId(name + '-error') || byId('kpis-error');
    el.textContent = message;
    el.hidden = false;
  }

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    var slug = form.getAttribute('data-slug') || (byId('slug') ? byId('slug').value.trim() : '');
    if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(slug)) {
      showError('slug', 'Give the report an address of lowercase letters, digits and dashes.');
      return;
    }
    var keys = [];
    var targets = {};
    Array.prototype.forEach.call(picked.children, function (li) {
      var key = li.getAttribute('data-key');
      keys.push(key);
      var min = li.querySelector('.bound-min').value.trim();
      var max = li.querySelector('.bound-max').value.trim();
      if (min !== '' || max !== '') {
        targets[key] = {};
        if (min !== '') targets[key].min = Number(min);
        if (max !== '') targets[key].max = Number(max);
      }
    });
    var body = {
      title: byId('title').value.trim(),
      period_kind: byId('period_kind').value,
      kpis: keys,
      targets: targets,
      compare: byId('compare').value
    };
    if (byId('segment_by').value) body.segment_by = byId('segment_by').value;
    if (byId('tree').value) body.tree = byId('tree').value;
    byId('status').textContent = 'Saving…';
    fetch('/api/v1/reports/' + encodeURIComponent(slug), {
      method: 'PUT',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify(body)
    }).then(function (resp) {
      return resp.text().then(function (t) {
        var data = {};
        try { data = t ? JSON.parse(t) : {}; } catch (err) { data = { message: t }; }
        if (resp.ok) {
          byId('status').textContent = 'Saved.';
          window.location.href = '/reports/' + encodeURIComponent(slug);
          return;
        }
        byId('status').textContent = 'Not saved.';
        showError(data.field || 'kpis', data.message || ('HTTP ' + resp.status));
      });
    }).catch(function (err) { byId('status').textContent = 'Network error: ' + err; });
  });
})();
