// Suggest-as-you-type: fills the search box's <datalist> from /api/suggest.
// The page works without it; this only adds completions.
(function () {
  const box = document.getElementById("q");
  const list = document.getElementById("completions");
  if (!box || !list || !window.fetch) return;
  let timer = null;
  let controller = null;
  box.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(async function () {
      const q = box.value;
      if (!q.trim()) { list.replaceChildren(); return; }
      if (controller) controller.abort();
      controller = new AbortController();
      try {
        const response = await fetch("/api/suggest?q=" + encodeURIComponent(q), { signal: controller.signal });
        if (!response.ok) return;
        const data = await response.json();
        list.replaceChildren(...data.suggestions.map(function (text) {
          const option = document.createElement("option");
          option.value = text;
          return option;
        }));
      } catch (error) { /* a newer keystroke aborted this request */ }
    }, 150);
  });
})();
