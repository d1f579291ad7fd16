// "Copy" buttons: <button data-copy="ID"> copies the value of the field with that id.
document.addEventListener('click', function (e) {
  var button = e.target.closest('button[data-copy]');
  if (!button) return;
  var field = document.getElementById(button.getAttribute('data-copy'));
  if (!field) return;
  field.select();
  var done = function () { button.textContent = 'Copied'; };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(done, function () {});
  } else if (document.execCommand && document.execCommand('copy')) {
    done();
  }
});
