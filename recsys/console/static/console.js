// The console works without this script; it adds search as you type and the review
// queue's keyboard shortcuts. Served from this server (the pages' CSP allows no other).
"use strict";

function liveSearch(input) {
  const target = document.getElementById(input.dataset.target);
  let timer = null;
  let latest = 0;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const asked = ++latest;
      const url = input.dataset.live + "?q=" + encodeURIComponent(input.value);
      const response = await fetch(url, { credentials: "same-origin" });
      if (asked !== latest || !response.ok) return;  // a newer query was sent meanwhile
      target.innerHTML = await response.text();      // server-rendered, escaped HTML
      history.replaceState(null, "", "?q=" + encodeURIComponent(input.value));
    }, 150);
  });
}

function reviewShortcuts(queue) {
  const rows = Array.from(queue.querySelectorAll("[data-review]"));
  if (!rows.length) return;
  let current = 0;
  const show = (index) => {
    rows[current].classList.remove("current");
    current = Math.max(0, Math.min(rows.length - 1, index));
    rows[current].classList.add("current");
    rows[current].scrollIntoView({ block: "nearest" });
  };
  const decide = (decision) => {
    const form = rows[current].querySelector("form[data-decide]");
    const note = form.querySelector("input[name=note]");
    if (!note.value.trim()) { note.focus(); return; }
    form.requestSubmit(form.querySelector(`button[value=${decision}]`));
  };
  show(0);
  document.addEventListener("keydown", (event) => {
    const typing = event.target.matches("input, textarea, select");
    if (event.key === "Escape" && typing) { event.target.blur(); return; }
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    const actions = {
      j: () => show(current + 1), ArrowDown: () => show(current + 1),
      k: () => show(current - 1), ArrowUp: () => show(current - 1),
      n: () => rows[current].querySelector("input[name=note]").focus(),
      x: () => decide("exclude"), c: () => decide("clear"),
    };
    const action = actions[event.key];
    if (action) { event.preventDefault(); action(); }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("input[data-live]").forEach(liveSearch);
  const queue = document.getElementById("review-queue");
  if (queue) reviewShortcuts(queue);
});
