// The custom KPI editor: runs a script without saving it, saves it, lists its versions.
// Talks to the JSON API with the session cookie and the page's CSRF token. Everything the
// server or the script returns is shown with textContent, never parsed as HTML.
(function () {
  'use strict';

  var byId = function (id) { return document.getElementById(id); };
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute('content') : '';
  var script = byId('script');
  var gutter = byId('gutter');
  var statusEl = byId('status');
  var errorLine = null;

  function setStatus(text, tone) {
    statusEl.textContent = text;
    statusEl.className = 'status' + (tone ? ' ' + tone : '');
  }

  function renderGutter() {
    var lines = script.value.split('\n').length;
    gutter.textContent = '';
    for (var i = 1; i <= lines; i++) {
      var span = document.createElement('span');
      span.textContent = String(i) + (i < lines ? '\n' : '');
      if (i === errorLine) span.className = 'err';
      gutter.appendChild(span);
    }
    gutter.scrollTop = script.scrollTop;
  }

  function selectLine(line) {
    var lines = script.value.split('\n');
    if (!line || line < 1 || line > lines.length) return;
    var start = 0;
    for (var i = 0; i < line - 1; i++) start += lines[i].length + 1;
    script.focus();
    script.setSelectionRange(start, start + lines[line - 1].length);
  }

  function decimals(unit) {
    return { count: 0, currency: 2, percent: 1, ratio: 2, days: 1, score: 1 }[unit];
  }

  function formatValue(value, unit) {
    if (value === null || value === undefined || !isFinite(value)) return '—';
    var d = decimals(unit);
    if (d === undefined) d = 2;
    if (unit === 'count' && Math.round(value) !== value) d = 2;
    var text = Number(value).toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
    if (unit === 'percent') return text + '%';
    if (unit === 'days') return text + ' days';
    return text;
  }

  function api(method, url, body) {
    var init = {
      method: method,
      credentials: 'same-origin',
      headers: { 'Accept': 'application/json', 'X-CSRF-Token': csrf }
    };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (resp) {
      return resp.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = { message: text }; }
        return { status: resp.status, ok: resp.ok, body: data || {} };
      });
    });
  }

  function showError(err) {
    var box = byId('result-error');
    if (!err) {
      box.hidden = true;
      box.textContent = '';
      errorLine = null;
      renderGutter();
      return;
    }
    var where = err.line ? 'Line ' + err.line + (err.column ? ', column ' + err.column : '') + ': ' : '';
    box.textContent = where + (err.message || 'the script failed');
    box.hidden = false;
    errorLine = err.line || null;
    renderGutter();
    if (err.line) selectLine(err.line);
  }

  function showSegments(segments, unit) {
    var wrap = byId('result-segments');
    var body = byId('segments-body');
    body.textContent = '';
    if (!Array.isArray(segments) || segments.length === 0) {
      wrap.hidden = true;
      return;
    }
    segments.forEach(function (s) {
      var tr = document.createElement('tr');
      var th = document.createElement('th');
      th.textContent = s.segment;
      var v = document.createElement('td');
      v.className = 'num';
      v.textContent = formatValue(s.value, unit);
      var p = document.createElement('td');
      p.className = 'num';
      p.textContent = formatValue(s.previous, unit);
      tr.appendChild(th);
      tr.appendChild(v);
      tr.appendChild(p);
      body.appendChild(tr);
    });
    wrap.hidden = false;
  }

  function run() {
    var body = { script: script.value, period: byId('period').value.trim() };
    var seg = byId('segment_by').value.trim();
    if (seg) body.segment_by = seg;
    setStatus('Running…');
    api('POST', '/api/v1/scripts/eval', body).then(function (r) {
      var unit = byId('unit').value;
      if (!r.ok) {
        byId('result-value').textContent = '—';
        showSegments(null, unit);
        showError({ message: r.body.message || ('HTTP ' + r.status), line: r.body.line, column: r.body.column });
        setStatus('Failed', 'bad');
        return;
      }
      byId('result-value').textContent = formatValue(r.body.value, unit);
      showSegments(r.body.segments, unit);
      var logs = Array.isArray(r.body.logs) ? r.body.logs : [];
      byId('result-logs').textContent = logs.length ? logs.join('\n') : '(no output)';
      showError(r.body.error);
      setStatus(r.body.error ? 'Finished with an error' : 'Done', r.body.error ? 'bad' : 'good');
    }).catch(function (e) {
      setStatus('Network error: ' + e, 'bad');
    });
  }

  function keyValue() {
    return byId('key').value.trim();
  }

  function save() {
    var key = keyValue();
    if (!byId('kpi-form').reportValidity()) return;
    var body = {
      name: byId('name').value.trim(),
      unit: byId('unit').value,
      direction: byId('direction').value,
      category: byId('category').value.trim(),
      kind: byId('kind').value,
      script: script.value
    };
    setStatus('Saving…');
    api('PUT', '/api/v1/kpis/custom/' + encodeURIComponent(key), body).then(function (r) {
      if (!r.ok) {
        showError({ message: r.body.message || ('HTTP ' + r.status), line: r.body.line, column: r.body.column });
        setStatus('Not saved', 'bad');
        return;
      }
      showError(null);
      setStatus(r.body.version ? 'Saved as version ' + r.body.version : 'Saved', 'good');
      remember(key, body);
      loadHistory(key);
    }).catch(function (e) {
      setStatus('Network error: ' + e, 'bad');
    });
  }

  // The "Open" list follows what was saved: a new KPI is added, a changed one updated.
  function remember(key, body) {
    var open = byId('open');
    var opt = Array.prototype.find.call(open.options, function (o) { return o.value === key; });
    if (!opt) {
      opt = document.createElement('option');
      opt.value = key;
      open.appendChild(opt);
    }
    opt.textContent = body.name + ' (' + key + ')';
    ['name', 'unit', 'direction', 'kind', 'category', 'script'].forEach(function (f) {
      opt.setAttribute('data-' + f, body[f]);
    });
    open.value = key;
  }

  function when(v) {
    if (v === null || v === undefined) return '';
    var d = typeof v === 'number' ? new Date(v) : new Date(String(v));
    return isNaN(d.getTime()) ? String(v) : d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  }

  function loadHistory(key) {
    var list = byId('history');
    if (!key) return;
    api('GET', '/api/v1/kpis/custom/' + encodeURIComponent(key) + '/history').then(function (r) {
      list.textContent = '';
      var items = Array.isArray(r.body) ? r.body : (r.body.versions || r.body.history || []);
      if (!r.ok || items.length === 0) {
        var li = document.createElement('li');
        li.className = 'muted';
        li.textContent = r.ok ? 'No saved versions yet.' : (r.body.message || 'No history for this key.');
        list.appendChild(li);
        return;
      }
      items.slice().sort(function (a, b) { return (b.version || 0) - (a.version || 0); }).forEach(function (v) {
        var li = document.createElement('li');
        var label = 'Version ' + (v.version !== undefined ? v.version : '?');
        var at = when(v.updated_at !== undefined ? v.updated_at : v.created_at);
        li.textContent = label + (at ? ' · ' + at : '') + (v.deleted ? ' · deleted' : '') + ' ';
        if (typeof v.script === 'string') {
          var btn = document.createElement('button');
          btn.type = 'button';
          btn.className = 'link';
          btn.textContent = 'load';
          btn.addEventListener('click', function () {
            script.value = v.script;
            showError(null);
            setStatus('Loaded ' + label.toLowerCase());
          });
          li.appendChild(btn);
        }
        list.appendChild(li);
      });
    }).catch(function (e) {
      setStatus('Network error: ' + e, 'bad');
    });
  }

  byId('open').addEventListener('change', function (ev) {
    var opt = ev.target.selectedOptions[0];
    if (!opt || !opt.value) return;
    byId('key').value = opt.value;
    byId('name').value = opt.getAttribute('data-name') || '';
    byId('unit').value = opt.getAttribute('data-unit') || 'count';
    byId('direction').value = opt.getAttribute('data-direction') || 'higher_is_better';
    byId('kind').value = opt.getAttribute('data-kind') || 'leading';
    byId('category').value = opt.getAttribute('data-category') || '';
    var source = opt.getAttribute('data-script');
    if (source) script.value = source;
    showError(null);
    loadHistory(opt.value);
  });
  byId('key').addEventListener('change', function () { loadHistory(keyValue()); });
  byId('run').addEventListener('click', run);
  // Viewers have no Save button.
  if (byId('save')) byId('save').addEventListener('click', save);
  script.addEventListener('input', function () { errorLine = null; renderGutter(); });
  script.addEventListener('scroll', function () { gutter.scrollTop = script.scrollTop; });
  script.addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      run();
    }
  });
  renderGutter();
})();
