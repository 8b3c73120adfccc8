// keyhaven console: the few things a page cannot do without script. No inline script: the
// Content-Security-Policy allows only this file.
document.addEventListener("click", async (e) => {
  const copy = e.target.closest("[data-copy]");
  if (copy) {
    const text = document.getElementById(copy.dataset.copy).textContent.trim();
    try {
      await navigator.clipboard.writeText(text);
      copy.textContent = "Copied";
    } catch {
      const range = document.createRange();
      range.selectNodeContents(document.getElementById(copy.dataset.copy));
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      copy.textContent = "Selected: press Ctrl+C";
    }
  }
  const confirmable = e.target.closest("[data-confirm]");
  if (confirmable && !window.confirm(confirmable.dataset.confirm)) {
    e.preventDefault();
  }
});

// A batch task page follows its task until it ends.
const progress = document.getElementById("batch-progress");
if (progress) {
  const bar = progress.querySelector("[data-bar]");
  const label = document.getElementById("batch-label");
  const tick = async () => {
    const res = await fetch(progress.dataset.url, { credentials: "same-origin" });
    if (!res.ok) return setTimeout(tick, 1000);
    const t = await res.json();
    const pct = t.requested ? Math.floor((100 * t.processed) / t.requested) : 0;
    bar.style.width = pct + "%";
    progress.setAttribute("aria-valuenow", String(pct));
    label.textContent = `${t.state}: ${t.processed} of ${t.requested} processed, ${t.created} created, ${t.failed} failed`;
    document.body.dataset.batchState = t.state;
    if (["DONE", "FAILED", "REJECTED"].includes(t.state)) {
      document.getElementById("batch-done").hidden = false;
      return;
    }
    setTimeout(tick, 250);
  };
  tick();
}
