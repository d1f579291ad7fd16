// The segment-set editor. Each segment has a name and tests (field, test, value); every edit is
// checked with POST /api/v1/segments/check?period=… and the partition check is shown at once:
// rows in no segment (a gap) and in several (an overlap), with examples and the values that put
// them there, and whether every additive measure's segments sum to its total. Saving is
// PUT /api/v1/segments/{name}; the API's error is shown next to the field it names.
(function () {
  'use strict';

  var byId = function (id) { return document.getElementById(id); };
  var kit = window.LodestarEditor;
  var el = kit.el, named = kit.named, button = kit.button, relabel = kit.relabel, send = kit.send;
  var form = byId('segment-editor');
  var list = byId('segments');
  var OPS = [
    ['eq', 'is'], ['ne', 'is not'], ['in', 'is one of'], ['not_in', 'is none of'],
    ['missing', 'is missing'], ['present', 'is present']
  ];

  // [{name, tests: [{field, op, value}]}]
  var segments = JSON.parse(form.getAttribute('data-set') || '{"segments":[]}').segments.map(function (s) {
    var tests = [];
    var filter = s.filter || {};
    Object.keys(filter).forEach(function (field) {
      var t = filter[field];
      if (typeof t === 'string') { tests.push({ field: field, op: 'eq', value: t }); return; }
      Object.keys(t).forEach(function (op) {
        var v = t[op];
        if (op === 'is_missing') tests.push({ field: field, op: v ? 'missing' : 'present', value: '' });
        else tests.push({ field: field, op: op, value: Array.isArray(v) ? v.join(', ') : String(v) });
      });
    });
    return { name: s.name || '', tests: tests };
  });
  if (segments.length === 0) segments.push({ name: '', tests: [] });





  var focusAfter = null;

  function segmentName(i) { return segments[i].name.trim() || ('segment ' + (i + 1)); }

  function render() {
    list.textContent = '';
    segments.forEach(function (s, i) {
      var li = el('li', 'segment-edit');
      var head = el('div', 'branch-head');
      var name = el('input', 'segment-name');
      name.value = s.name;
      name.placeholder = 'Segment name, e.g. Paid';
      name.setAttribute('aria-label', 'Name of segment ' + (i + 1));
      name.setAttribute('data-focus', 'name-' + i);
      name.addEventListener('input', function () { s.name = name.value; relabel(li, segmentName(i)); changed(); });
      head.appendChild(name);
      var tools = el('span', 'branch-tools');
      tools.appendChild(button('↑', 'Move {} up', function () {
        if (i === 0) return;
        segments.splice(i - 1, 0, segments.splice(i, 1)[0]);
        focusAfter = 'name-' + (i - 1); render(); changed();
      }));
      tools.appendChild(button('↓', 'Move {} down', function () {
        if (i === segments.length - 1) return;
        segments.splice(i + 1, 0, segments.splice(i, 1)[0]);
        focusAfter = 'name-' + (i + 1); render(); changed();
      }));
      tools.appendChild(button('Remove', 'Remove {}', function () {
        segments.splice(i, 1);
        if (segments.length === 0) segments.push({ name: '', tests: [] });
        focusAfter = 'name-' + Math.max(0, i - 1); render(); changed();
      }));
      head.appendChild(tools);
      li.appendChild(head);

      var tests = el('ul', 'tests');
      named(tests, 'Tests of {}');
      if (s.tests.length === 0) tests.appendChild(el('li', 'muted', 'No test: every row is in this segment.'));
      s.tests.forEach(function (t, k) {
        var row = el('li', 'test-row');
        var field = el('input', 'test-field');
        field.setAttribute('list', 'field-options');
        field.value = t.field;
        field.placeholder = 'channel';
        field.spellcheck = false;
        named(field, 'Field of test ' + (k + 1) + ' of {}');
        field.setAttribute('data-focus', 'field-' + i + '-' + k);
        field.addEventListener('input', function () { t.field = field.value.trim(); changed(); });
        row.appendChild(field);
        var op = el('select', 'test-op');
        named(op, 'Test ' + (k + 1) + ' of {}');
        OPS.forEach(function (o) {
          var opt = el('option', '', o[1]);
          opt.value = o[0];
          if (o[0] === t.op) opt.selected = true;
          op.appendChild(opt);
        });
        var value = el('input', 'test-value');
        value.value = t.value;
        value.spellcheck = false;
        named(value, 'Value of test ' + (k + 1) + ' of {}');
        var shape = function () {
          var list = t.op === 'in' || t.op === 'not_in';
          value.hidden = t.op === 'missing' || t.op === 'present';
          value.placeholder = list ? 'paid_search, paid_social' : 'email';
        };
        shape();
        op.addEventListener('change', function () { t.op = op.value; shape(); changed(); });
        value.addEventListener('input', function () { t.value = value.value; changed(); });
        row.appendChild(op);
        row.appendChild(value);
        row.appendChild(button('×', 'Remove test ' + (k + 1) + ' of {}', function () {
          s.tests.splice(k, 1);
          focusAfter = 'add-test-' + i; render(); changed();
        }));
        tests.appendChild(row);
      });
      li.appendChild(tests);
      var addTest = button('Add a test', 'Add a test to {}', function () {
        s.tests.push({ field: 'channel', op: 'eq', value: '' });
        focusAfter = 'field-' + i + '-' + (s.tests.length - 1); render(); changed();
      });
      addTest.setAttribute('data-focus', 'add-test-' + i);
      li.appendChild(addTest);
      relabel(li, segmentName(i));
      list.appendChild(li);
    });
    if (focusAfter) {
      var f = list.querySelector('[data-focus="' + focusAfter + '"]');
      if (f) f.focus();
      focusAfter = null;
    }
  }

  byId('add-segment').addEventListener('click', function () {
    segments.push({ name: '', tests: [] });
    focusAfter = 'name-' + (segments.length - 1);
    render(); changed();
  });

  // The body the API takes, or {error} naming what to fix first. For the check, a segment not
  // named yet is called by its place and a test still without a value is left out; saving
  // needs both.
  function body(forCheck) {
    var out = [];
    for (var i = 0; i < segments.length; i++) {
      var s = segments[i];
      var filter = {};
      for (var k = 0; k < s.tests.length; k++) {
        var t = s.tests[k];
        var key = t.op === 'missing' || t.op === 'present' ? 'is_missing' : t.op;
        if (forCheck && key !== 'is_missing' && t.value.trim() === '') continue;
        if (!t.field) return { error: segmentName(i) + ': test ' + (k + 1) + ' needs a field.' };
        var tests = filter[t.field] = filter[t.field] || {};
        if (tests[key] !== undefined) {
          return { error: segmentName(i) + ': ' + t.field + ' has that test twice; keep one.' };
        }
        if (key === 'is_missing') tests[key] = t.op === 'missing';
        else if (key === 'in' || key === 'not_in') {
          tests[key] = t.value.split(',').map(function (v) { return v.trim(); }).filter(function (v) { return v !== ''; });
        } else tests[key] = t.value.trim();
      }
      out.push({ name: s.name.trim() || (forCheck ? segmentName(i) : ''), filter: filter });
    }
    return { segments: out };
  }


  var timer = null;
  var asked = 0;
  function changed() {
    clearTimeout(timer);
    timer = setTimeout(check, 300);
  }
  byId('check-period').addEventListener('change', changed);

  function check() {
    var n = ++asked;
    var out = byId('check');
    var payload = body(true);
    if (payload.error) {
      out.textContent = '';
      out.appendChild(el('p', 'field-error', payload.error));
      return;
    }
    var period = byId('check-period').value.trim();
    send('POST', '/api/v1/segments/check?period=' + encodeURIComponent(period), payload).then(function (r) {
      if (n !== asked) return;
      out.textContent = '';
      if (!r.ok) {
        var where = r.data.field ? r.data.field.replace(/^segments\[(\d+)\]/, function (_, d) { return segmentName(Number(d)); }) : '';
        out.appendChild(el('p', 'field-error', (where ? where + ': ' : '') + (r.data.message || ('HTTP ' + r.status))));
        return;
      }
      showCheck(out, r.data);
    }).catch(function (err) { out.textContent = 'Could not check: ' + err; });
  }

  function plural(n, one, many) { return n + ' ' + (n === 1 ? one : many); }

  function valuesText(values) {
    var keys = Object.keys(values || {});
    if (keys.length === 0) return 'no value in the fields tested';
    return keys.map(function (k) { return k + ' = ' + values[k]; }).join(' · ');
  }

  function examples(out, title, rows, withSegments, cls) {
    var h = el('h3', '', title);
    out.appendChild(h);
    var wrap = el('div', 'table-wrap');
    var table = el('table', 'examples ' + cls);
    var head = el('tr');
    ['Row', 'Its values'].concat(withSegments ? ['In'] : []).forEach(function (t) {
      var th = el('th', '', t); th.scope = 'col'; head.appendChild(th);
    });
    var thead = el('thead'); thead.appendChild(head); table.appendChild(thead);
    var tbody = el('tbody');
    rows.forEach(function (x) {
      var tr = el('tr');
      tr.setAttribute('data-row', x.id);
      tr.appendChild(el('td', 'row-id', x.id));
      tr.appendChild(el('td', '', valuesText(x.values)));
      if (withSegments) tr.appendChild(el('td', '', x.segments.join(', ')));
      tbody.appendChild(tr);
    });
    table.appendChild(tbody);
    wrap.appendChild(table);
    out.appendChild(wrap);
  }

  function showCheck(out, data) {
    var gap = 0, overlap = 0;
    data.tables.forEach(function (t) { gap += t.gap; overlap += t.overlap; });
    var badSums = data.measures.filter(function (m) { return !m.sums_match; });
    if (data.partition) {
      out.appendChild(el('p', 'check-ok', 'A partition for ' + data.period.key + ': every row is in exactly one segment, and the segments of every additive measure sum to its total.'));
    } else {
      var parts = [];
      if (gap) parts.push(plural(gap, 'row in no segment', 'rows in no segment'));
      if (overlap) parts.push(plural(overlap, 'row in several segments', 'rows in several segments'));
      if (badSums.length) parts.push(plural(badSums.length, 'measure whose segments do not sum to its total', 'measures whose segments do not sum to their totals'));
      out.appendChild(el('p', 'check-bad', 'Not a partition for ' + data.period.key + ': ' + (parts.join(', ') || 'see below') + '.'));
    }
    var wrap = el('div', 'table-wrap');
    var table = el('table', 'coverage');
    var head = el('tr');
    ['Table', 'Rows', 'In none', 'In several'].forEach(function (t) {
      var th = el('th', '', t); th.scope = 'col'; head.appendChild(th);
    });
    var thead = el('thead'); thead.appendChild(head); table.appendChild(thead);
    var tbody = el('tbody');
    data.tables.forEach(function (t) {
      var tr = el('tr');
      tr.setAttribute('data-table', t.table);
      var th = el('th', '', t.table); th.scope = 'row'; tr.appendChild(th);
      tr.appendChild(el('td', 'num', String(t.rows)));
      tr.appendChild(el('td', 'num gap' + (t.gap ? ' bad' : ''), String(t.gap)));
      tr.appendChild(el('td', 'num overlap' + (t.overlap ? ' bad' : ''), String(t.overlap)));
      tbody.appendChild(tr);
    });
    table.appendChild(tbody);
    wrap.appendChild(table);
    out.appendChild(wrap);
    data.unsupported.forEach(function (u) {
      out.appendChild(el('p', 'muted', 'Rows of ' + u.table + ' are not split by this set: ' + u.reason + '.'));
    });
    data.tables.forEach(function (t) {
      if (t.gap_examples.length) {
        examples(out, t.table + ' in no segment (' + (t.gap > t.gap_examples.length ? 'first ' + t.gap_examples.length + ' of ' : '') + t.gap + ')', t.gap_examples, false, 'gap-rows');
      }
      if (t.overlap_examples.length) {
        examples(out, t.table + ' in several segments (' + (t.overlap > t.overlap_examples.length ? 'first ' + t.overlap_examples.length + ' of ' : '') + t.overlap + ')', t.overlap_examples, true, 'overlap-rows');
      }
    });
    if (badSums.length) {
      var ul = el('ul', 'findings');
      badSums.forEach(function (m) {
        ul.appendChild(el('li', '', m.measure + ': total ' + m.total + ', segments sum to ' + m.segments_sum));
      });
      out.appendChild(ul);
    }
  }

  function nameValue() {
    return form.getAttribute('data-name') || (byId('set-name') ? byId('set-name').value.trim() : '');
  }

  function showError(field, message) {
    ['name', 'segments'].forEach(function (f) {
      var e = byId(f + '-error');
      if (e) { e.hidden = true; e.textContent = ''; }
    });
    if (!field) return;
    var e = byId((field === 'name' ? 'name' : 'segments') + '-error') || byId('segments-error');
    e.textContent = message;
    e.hidden = false;
  }

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    var name = nameValue();
    if (!/^[a-z0-9_-]{1,64}$/.test(name)) {
      showError('name', 'Give the set a name of 1 to 64 lowercase letters, digits, _ and -.');
      return;
    }
    var payload = body();
    if (payload.error) { showError('segments', payload.error); return; }
    showError(null);
    byId('status').textContent = 'Saving…';
    send('PUT', '/api/v1/segments/' + encodeURIComponent(name), payload).then(function (r) {
      if (r.ok) {
        byId('status').textContent = 'Saved.';
        window.location.href = '/segments';
        return;
      }
      byId('status').textContent = 'Not saved.';
      var field = r.data.field || 'segments';
      var where = field.replace(/^segments\[(\d+)\]/, function (_, d) { return segmentName(Number(d)); });
      showError(field === 'name' ? 'name' : 'segments', (field === 'name' ? '' : where + ': ') + (r.data.message || ('HTTP ' + r.status)));
    }).catch(function (err) { byId('status').textContent = 'Network error: ' + err; });
  });

  var del = byId('delete-set');
  if (del) {
    del.addEventListener('click', function () {
      var name = nameValue();
      if (!window.confirm('Delete the segment set ' + name + '? Reports split by it will say it is unknown.')) return;
      send('DELETE', '/api/v1/segments/' + encodeURIComponent(name)).then(function (r) {
        if (r.ok) { window.location.href = '/segments'; return; }
        byId('status').textContent = r.data.message || ('HTTP ' + r.status);
      });
    });
  }

  render();
  check();
})();
