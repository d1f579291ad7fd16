// The data page's upload: the file is checked with the import API's dry run (preview, bad rows
// with their line and column, matching mappings), then loaded when asked. Everything from the
// server or the file is shown with textContent, never parsed as HTML.
(function () {
  'use strict';

  var byId = function (id) { return document.getElementById(id); };
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute('content') : '';
  var fileInput = byId('file');
  var checked = null; // the file and options the last clean check was for

  function setStatus(text, tone) {
    var el = byId('status');
    el.textContent = text;
    el.className = 'status' + (tone ? ' ' + tone : '');
  }

  function cell(tag, text) {
    var el = document.createElement(tag);
    el.textContent = text === null || text === undefined ? '' : String(text);
    return el;
  }

  function send(dryRun, onProgress) {
    return new Promise(function (resolve, reject) {
      var file = fileInput.files[0];
      var table = byId('table').value;
      var mapping = byId('mapping').value;
      var url = '/api/v1/imports?table=' + encodeURIComponent(table) +
        (mapping ? '&mapping=' + encodeURIComponent(mapping) : '') +
        (dryRun ? '&dry_run=true' : '');
      var xhr = new XMLHttpRequest();
      xhr.open('POST', url);
      xhr.setRequestHeader('X-CSRF-Token', csrf);
      xhr.setRequestHeader('Accept', 'application/json');
      var json = /\.json$/i.test(file.name) || file.type === 'application/json';
      xhr.setRequestHeader('Content-Type', json ? 'application/json' : 'text/csv');
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total);
      };
      xhr.onload = function () {
        var body = {};
        try { body = xhr.responseText ? JSON.parse(xhr.responseText) : {}; } catch (e) { body = { message: xhr.responseText }; }
        resolve({ status: xhr.status, ok: xhr.status >= 200 && xhr.status < 300, body: body });
      };
      xhr.onerror = function () { reject(new Error('network error')); };
      xhr.send(file);
    });
  }

  function showProblems(report) {
    var issues = (report.header_errors || []).concat(report.errors || []);
    var box = byId('problems');
    var body = byId('problems-body');
    body.textContent = '';
    if (issues.length === 0) { box.hidden = true; return; }
    issues.forEach(function (i) {
      var tr = document.createElement('tr');
      var line = cell('td', i.line !== undefined && i.line !== null ? i.line : (i.index !== undefined ? 'row ' + (i.index + 1) : ''));
      line.setAttribute('data-label', 'Line');
      var col = cell('td', i.column || i.field || '');
      col.setAttribute('data-label', 'Column');
      var msg = cell('td', i.message);
      msg.setAttribute('data-label', 'Problem');
      tr.appendChild(line); tr.appendChild(col); tr.appendChild(msg);
      body.appendChild(tr);
    });
    var header = (report.header_errors || []).length;
    byId('problems-count').textContent = header
      ? 'The header has a problem: no row was read.'
      : report.invalid + ' of ' + report.records + ' rows cannot be stored' + (report.errors_truncated ? ' (the first ones are listed)' : '') + '.';
    box.hidden = false;
  }

  function showPreview(report) {
    var rows = report.preview || [];
    var box = byId('preview');
    var head = byId('preview-head');
    var body = byId('preview-body');
    head.textContent = ''; body.textContent = '';
    if (rows.length === 0) { box.hidden = true; return; }
    var keys = [];
    rows.forEach(function (r) { Object.keys(r).forEach(function (k) { if (keys.indexOf(k) < 0) keys.push(k); }); });
    var tr = document.createElement('tr');
    keys.forEach(function (k) { tr.appendChild(cell('th', k)); });
    head.appendChild(tr);
    rows.forEach(function (r) {
      var row = document.createElement('tr');
      keys.forEach(function (k) {
        var v = r[k];
        row.appendChild(cell('td', typeof v === 'object' && v !== null ? JSON.stringify(v) : v));
      });
      body.appendChild(row);
    });
    box.hidden = false;
  }

  function offerMappings(report) {
    var select = byId('mapping');
    var current = select.value;
    (report.matching_mappings || []).forEach(function (name) {
      if (!Array.prototype.some.call(select.options, function (o) { return o.value === name; })) {
        var o = document.createElement('option');
        o.value = name; o.textContent = name;
        select.appendChild(o);
      }
    });
    select.value = current;
  }

  function options() {
    var f = fileInput.files[0];
    return f ? [f.name, f.size, f.lastModified, byId('table').value, byId('mapping').value].join('|') : null;
  }

  function check() {
    if (!fileInput.files[0]) { setStatus('Choose a file first.', 'bad'); return; }
    byId('load').disabled = true;
    setStatus('Checking…');
    send(true).then(function (r) {
      if (!r.ok && !r.body.records && r.body.records !== 0) {
        setStatus(r.body.message || ('HTTP ' + r.status), 'bad');
        return;
      }
      var report = r.body;
      offerMappings(report);
      showProblems(report);
      showPreview(report);
      var matching = (report.matching_mappings || []).filter(function (m) { return m !== byId('mapping').value; });
      var hint = matching.length ? ' Its columns match the mapping ' + matching.join(', ') + ': pick it above and check again.' : '';
      if (report.invalid > 0 || (report.header_errors || []).length > 0) {
        setStatus('Nothing stored. Fix the rows below, or the file, and check again.' + hint, 'bad');
        checked = null;
      } else {
        setStatus(report.rows + ' rows ready to load.' + hint, 'good');
        checked = options();
        byId('load').disabled = false;
      }
    }).catch(function (e) { setStatus('Network error: ' + e.message, 'bad'); });
  }

  function load() {
    if (checked === null || checked !== options()) { check(); return; }
    var bar = byId('progress');
    bar.hidden = false; bar.value = 0;
    byId('load').disabled = true;
    setStatus('Uploading…');
    send(false, function (share) {
      bar.value = Math.round(share * 100);
      if (share >= 1) { bar.removeAttribute('value'); setStatus('Writing the rows…'); }
    }).then(function (r) {
      bar.hidden = true;
      if (!r.ok) {
        showProblems(r.body);
        setStatus('Nothing stored: ' + (r.body.message || ('HTTP ' + r.status)), 'bad');
        return;
      }
      setStatus('Loaded: ' + r.body.inserted + ' new rows, ' + r.body.updated + ' updated.', 'good');
      checked = null;
      var rows = byId('rows-' + r.body.table);
      var before = rows ? parseInt(rows.textContent.replace(/,/g, ''), 10) : NaN;
      if (rows && !isNaN(before)) rows.textContent = (before + r.body.inserted).toLocaleString('en-US');
    }).catch(function (e) { bar.hidden = true; setStatus('Network error: ' + e.message, 'bad'); });
  }

  var drop = byId('drop');
  drop.addEventListener('dragover', function (e) { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', function () { drop.classList.remove('over'); });
  drop.addEventListener('drop', function (e) {
    e.preventDefault();
    drop.classList.remove('over');
    if (e.dataTransfer && e.dataTransfer.files.length) {
      fileInput.files = e.dataTransfer.files;
      check();
    }
  });
  fileInput.addEventListener('change', function () { checked = null; byId('load').disabled = true; });
  byId('table').addEventListener('change', function () { checked = null; byId('load').disabled = true; });
  byId('mapping').addEventListener('change', function () { checked = null; byId('load').disabled = true; });
  byId('check').addEventListener('click', check);
  byId('load').addEventListener('click', load);
})();
