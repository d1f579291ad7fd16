// The report's calendar: pick a day, week, month, quarter, year or range of days on the
// browser's own calendars, and the period form is sent with that period's key (the other
// options of the form, split and comparison, stay as they are, so the address keeps them all).
// Without this script the period field still takes any key typed into it.
(function () {
  'use strict';

  var byId = function (id) { return document.getElementById(id); };
  var panel = byId('calendar');
  var toggle = byId('calendar-toggle');
  var field = byId('period');
  if (!panel || !toggle || !field) return;
  var form = field.form;

  function pad(n) { return (n < 10 ? '0' : '') + n; }
  function parse(day) {
    var p = day.split('-').map(Number);
    return new Date(Date.UTC(p[0], p[1] - 1, p[2]));
  }
  function iso(d) { return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()); }
  // The ISO week holding a day: `2026-W45` (the week's Thursday decides its year).
  function isoWeek(d) {
    var t = new Date(d.getTime());
    var weekday = (t.getUTCDay() + 6) % 7;
    t.setUTCDate(t.getUTCDate() - weekday + 3);
    var year = t.getUTCFullYear();
    var jan4 = new Date(Date.UTC(year, 0, 4));
    var week = 1 + Math.round(((t - jan4) / 86400000 - 3 + ((jan4.getUTCDay() + 6) % 7)) / 7);
    return year + '-W' + pad(week);
  }

  // Start every field at the period on the page.
  var first = parse(panel.getAttribute('data-first'));
  var last = parse(panel.getAttribute('data-last'));
  var kind = panel.getAttribute('data-kind');
  byId('cal-day').value = iso(first);
  byId('cal-week').value = isoWeek(first);
  byId('cal-month').value = iso(first).slice(0, 7);
  byId('cal-q').value = String(Math.floor(first.getUTCMonth() / 3) + 1);
  byId('cal-qyear').value = first.getUTCFullYear();
  byId('cal-year').value = first.getUTCFullYear();
  byId('cal-from').value = iso(first);
  byId('cal-to').value = iso(last);
  var select = byId('cal-kind');
  select.value = ['day', 'week', 'month', 'quarter', 'year', 'range'].indexOf(kind) >= 0 ? kind : 'range';

  function show() {
    Array.prototype.forEach.call(panel.querySelectorAll('.cal-field'), function (f) {
      f.hidden = f.getAttribute('data-kind') !== select.value;
    });
  }
  select.addEventListener('change', show);
  show();

  toggle.hidden = false;
  toggle.addEventListener('click', function () {
    var open = panel.hidden;
    panel.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
    if (open) select.focus();
  });

  function key() {
    switch (select.value) {
      case 'day': return byId('cal-day').value;
      case 'week': return byId('cal-week').value;
      case 'month': return byId('cal-month').value;
      case 'quarter': return byId('cal-qyear').value ? byId('cal-qyear').value + '-Q' + byId('cal-q').value : '';
      case 'year': return byId('cal-year').value;
      default: {
        var from = byId('cal-from').value;
        var to = byId('cal-to').value;
        return from && to ? from + '..' + to : '';
      }
    }
  }

  function go() {
    var k = key();
    var error = byId('cal-error');
    if (!k) {
      error.textContent = 'Pick a ' + (select.value === 'range' ? 'first and a last day' : select.value) + ' first.';
      error.hidden = false;
      return;
    }
    if (select.value === 'range' && byId('cal-to').value < byId('cal-from').value) {
      error.textContent = 'The last day comes before the first.';
      error.hidden = false;
      return;
    }
    error.hidden = true;
    field.value = k;
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
  }
  byId('cal-go').addEventListener('click', go);
  panel.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && e.target.tagName === 'INPUT') { e.preventDefault(); go(); }
    if (e.key === 'Escape') { panel.hidden = true; toggle.setAttribute('aria-expanded', 'false'); toggle.focus(); }
  });
})();
