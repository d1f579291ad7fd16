// The tree editor. Branches are kept as a flat list with a depth (indenting a branch makes it a
// child of the branch above it); each edit is checked with POST /api/v1/trees/check and the
// MECE findings are shown at once, before anything is saved. Saving is PUT /api/v1/trees/{slug};
// the API's error is shown next to the field it names.
(function () {
  'use strict';

  var MAX_DEPTH = 7;
  var byId = function (id) { return document.getElementById(id); };
  var kit = window.LodestarEditor;
  var el = kit.el, named = kit.named, button = kit.button, relabel = kit.relabel, send = kit.send;
  var form = byId('tree-editor');
  var list = byId('branches');
  var names = {};
  Array.prototype.forEach.call(byId('kpi-options').options, function (o) { names[o.value] = o.textContent; });

  // [{title, depth, kpis: [key…]}] in tree order.
  var flat = [];
  (function flatten(nodes, depth) {
    nodes.forEach(function (n) {
      flat.push({ title: n.title || '', depth: depth, kpis: (n.kpis || []).slice(), kind: n.kind });
      flatten(n.branches || [], depth + 1);
    });
  })(JSON.parse(form.getAttribute('data-branches') || '[]'), 0);
  if (flat.length === 0) flat.push({ title: '', depth: 0, kpis: [] });

  // The nested branches the API takes; a depth more than one below the branch above is read as
  // one below it.
  // For the check, a branch not named yet is called by its place ("branch 2"): saving still
  // needs every title.
  function nested(forCheck) {
    var roots = [];
    var stack = [];
    flat.forEach(function (b, i) {
      var node = { title: b.title.trim() || (forCheck ? branchName(i) : ''), kpis: b.kpis.slice() };
      if (b.kind) node.kind = b.kind;
      var depth = Math.min(b.depth, stack.length);
      stack.length = depth;
      if (depth === 0) roots.push(node);
      else {
        var parent = stack[depth - 1];
        (parent.branches = parent.branches || []).push(node);
      }
      stack.push(node);
    });
    return roots;
  }





  // Marks of the last check: KPI key -> rule, to colour the chips.
  var marks = {};
  var focusAfter = null;

  function branchName(i) {
    return flat[i].title.trim() || ('branch ' + (i + 1));
  }

  function render() {
    list.textContent = '';
    flat.forEach(function (b, i) {
      var li = el('li', 'branch depth-' + Math.min(b.depth, MAX_DEPTH));
      li.setAttribute('data-index', i);
      var head = el('div', 'branch-head');
      var title = el('input', 'branch-title');
      title.value = b.title;
      title.placeholder = 'Branch title';
      title.setAttribute('aria-label', 'Title of branch ' + (i + 1));
      title.setAttribute('data-focus', 'title-' + i);
      title.addEventListener('input', function () { b.title = title.value; relabel(li, branchName(i)); changed(); });
      head.appendChild(title);
      var tools = el('span', 'branch-tools');
      tools.appendChild(button('←', 'Move {} out one level', function () {
        if (b.depth > 0) { b.depth -= 1; focusAfter = 'title-' + i; render(); changed(); }
      }));
      tools.appendChild(button('→', 'Move {} in one level, under the branch above', function () {
        var above = i > 0 ? flat[i - 1].depth : -1;
        if (b.depth <= above && b.depth < MAX_DEPTH) { b.depth += 1; focusAfter = 'title-' + i; render(); changed(); }
      }));
      tools.appendChild(button('↑', 'Move {} up', function () {
        if (i === 0) return;
        flat.splice(i - 1, 0, flat.splice(i, 1)[0]);
        focusAfter = 'title-' + (i - 1); render(); changed();
      }));
      tools.appendChild(button('↓', 'Move {} down', function () {
        if (i === flat.length - 1) return;
        flat.splice(i + 1, 0, flat.splice(i, 1)[0]);
        focusAfter = 'title-' + (i + 1); render(); changed();
      }));
      tools.appendChild(button('Remove', 'Remove {}', function () {
        flat.splice(i, 1);
        if (flat.length === 0) flat.push({ title: '', depth: 0, kpis: [] });
        focusAfter = 'title-' + Math.max(0, i - 1); render(); changed();
      }));
      head.appendChild(tools);
      li.appendChild(head);

      var chips = el('ul', 'chips');
      named(chips, 'KPIs in {}');
      b.kpis.forEach(function (key, k) {
        var chip = el('li', 'chip' + (marks[key] ? ' ' + marks[key] : ''));
        chip.setAttribute('data-kpi', key);
        chip.appendChild(el('span', '', names[key] || key));
        if (marks[key]) chip.title = marks[key].replace('_', ' ');
        chip.appendChild(button('×', 'Remove ' + (names[key] || key) + ' from {}', function () {
          b.kpis.splice(k, 1);
          focusAfter = 'add-' + i; render(); changed();
        }));
        chips.appendChild(chip);
      });
      li.appendChild(chips);

      var add = el('div', 'add-kpi');
      var input = el('input');
      input.setAttribute('list', 'kpi-options');
      input.placeholder = 'Add a KPI: type its key or name';
      named(input, 'Add a KPI to {}');
      input.setAttribute('data-focus', 'add-' + i);
      input.spellcheck = false;
      var addIt = function () {
        var key = resolveKey(input.value);
        if (!key) { input.setCustomValidity('No KPI of the team has that key or name.'); input.reportValidity(); return; }
        input.setCustomValidity('');
        if (b.kpis.indexOf(key) < 0) b.kpis.push(key);
        focusAfter = 'add-' + i; render(); changed();
      };
      input.addEventListener('keydown', function (e) { if (e.key === 'Enter') { e.preventDefault(); addIt(); } });
      add.appendChild(input);
      add.appendChild(button('Add', 'Add the KPI to {}', addIt));
      li.appendChild(add);
      relabel(li, branchName(i));
      list.appendChild(li);
    });
    if (focusAfter) {
      var f = list.querySelector('[data-focus="' + focusAfter + '"]');
      if (f) f.focus();
      focusAfter = null;
    }
  }

  function resolveKey(text) {
    var t = text.trim();
    if (!t) return null;
    if (names[t] !== undefined) return t;
    var lower = t.toLowerCase();
    for (var key in names) {
      if (names[key].toLowerCase() === lower) return key;
    }
    return null;
  }

  byId('add-branch').addEventListener('click', function () {
    flat.push({ title: '', depth: 0, kpis: [] });
    focusAfter = 'title-' + (flat.length - 1);
    render(); changed();
  });

  function slugValue() {
    return form.getAttribute('data-slug') || (byId('slug') ? byId('slug').value.trim() : '');
  }

  function body(forCheck) {
    return { title: byId('title').value.trim(), branches: nested(forCheck) };
  }


  function showError(field, message) {
    ['slug', 'title', 'branches'].forEach(function (f) {
      var e = byId(f + '-error');
      if (e) { e.hidden = true; e.textContent = ''; }
    });
    if (!field) return;
    var e = byId(field + '-error') || byId('branches-error');
    e.textContent = message;
    e.hidden = false;
  }

  // The check, a moment after the last edit; only the newest answer is shown.
  var timer = null;
  var asked = 0;
  function changed() {
    clearTimeout(timer);
    timer = setTimeout(check, 250);
  }

  function check() {
    var n = ++asked;
    var payload = body(true);
    if (!payload.title) payload.title = 'Untitled';
    send('POST', '/api/v1/trees/check', payload).then(function (r) {
      if (n !== asked) return;
      var out = byId('check');
      out.textContent = '';
      if (!r.ok) {
        out.appendChild(el('p', 'field-error', r.data.message || ('HTTP ' + r.status)));
        return;
      }
      showCheck(out, r.data);
    }).catch(function (err) { byId('check').textContent = 'Could not check: ' + err; });
  }

  function showCheck(out, data) {
    var before = JSON.stringify(marks);
    marks = {};
    if (data.passes) {
      out.appendChild(el('p', 'check-ok', 'Passes: every KPI of the team is in exactly one branch, every branch holds a KPI, and no two KPIs compute the same formula.'));
    } else {
      var counts = {};
      data.findings.forEach(function (f) { counts[f.rule] = (counts[f.rule] || 0) + 1; });
      var summary = Object.keys(counts).map(function (r) { return counts[r] + ' ' + r.replace('_', ' '); }).join(' · ');
      out.appendChild(el('p', 'check-bad', 'Not MECE yet: ' + summary + '.'));
      var ul = el('ul', 'findings');
      data.findings.forEach(function (f) {
        var li = el('li');
        li.setAttribute('data-rule', f.rule);
        li.appendChild(el('span', 'pill', f.rule.replace('_', ' ')));
        li.appendChild(document.createTextNode(' ' + f.message));
        ul.appendChild(li);
        if ((f.rule === 'overlap' || f.rule === 'unknown_kpi') && f.kpi) marks[f.kpi] = f.rule;
      });
      out.appendChild(ul);
    }
    // Colour the chips the findings name (without moving the focus).
    if (JSON.stringify(marks) !== before) {
      Array.prototype.forEach.call(list.querySelectorAll('.chip'), function (chip) {
        var rule = marks[chip.getAttribute('data-kpi')];
        chip.className = 'chip' + (rule ? ' ' + rule : '');
        chip.title = rule ? rule.replace('_', ' ') : '';
      });
    }
  }

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    var slug = slugValue();
    if (!/^[a-z0-9-]{1,64}$/.test(slug)) {
      showError('slug', 'Give the tree an address of 1 to 64 lowercase letters, digits and dashes.');
      return;
    }
    showError(null);
    byId('status').textContent = 'Saving…';
    send('PUT', '/api/v1/trees/' + encodeURIComponent(slug), body()).then(function (r) {
      if (r.ok) {
        byId('status').textContent = 'Saved.';
        window.location.href = '/trees/' + encodeURIComponent(slug);
        return;
      }
      byId('status').textContent = 'Not saved.';
      showError(r.data.field || 'branches', r.data.message || ('HTTP ' + r.status));
    }).catch(function (err) { byId('status').textContent = 'Network error: ' + err; });
  });

  var del = byId('delete-tree');
  if (del) {
    del.addEventListener('click', function () {
      var slug = slugValue();
      if (!window.confirm('Delete the tree ' + slug + '? Reports organised by it go back to the default tree.')) return;
      send('DELETE', '/api/v1/trees/' + encodeURIComponent(slug)).then(function (r) {
        if (r.ok) { window.location.href = '/trees/default'; return; }
        byId('status').textContent = r.data.message || ('HTTP ' + r.status);
      });
    });
  }

  render();
  check();
})();
