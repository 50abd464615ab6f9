// tokengate dashboard: the little behaviour pages need beyond HTML forms.
// A form submits once: a second click while the first request is on its way does nothing.
document.addEventListener('submit', (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute('data-once')) return;
  if (form.dataset.sent === '1') { event.preventDefault(); return; }
  form.dataset.sent = '1';
  for (const button of form.querySelectorAll('button[type="submit"], button:not([type])')) button.disabled = true;
});
// Copy buttons: copy the text of the element named by data-copy.
document.addEventListener('click', async (event) => {
  const button = event.target instanceof Element ? event.target.closest('button[data-copy]') : null;
  if (!button) return;
  const source = document.getElementById(button.getAttribute('data-copy'));
  if (!source) return;
  try {
    await navigator.clipboard.writeText(source.textContent.trim());
    button.textContent = 'Copied';
  } catch {
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    button.textContent = 'Selected: press Ctrl+C';
  }
});
