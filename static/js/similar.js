// Search before you write: as the author types a new entry's title and summary, list similar
// entries already on Span. Without this script the form's "Check for similar entries" button
// does the same with a full page.
(function () {
  "use strict";
  var form = document.querySelector("form[data-similar-url]");
  if (!form || !window.fetch) return;
  var title = form.querySelector("#title");
  var summary = form.querySelector("#summary");
  var region = document.getElementById("similar-entries");
  if (!title || !summary || !region) return;
  var timer = null;
  var latest = "";

  function check() {
    var wanted = title.value.trim();
    if (wanted.length < 4) return;
    var key = wanted + "\n" + summary.value.trim();
    if (key === latest) return;
    latest = key;
    var params = new URLSearchParams({ title: wanted, summary: summary.value.trim() });
    fetch(form.getAttribute("data-similar-url") + "?" + params.toString(), {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
    })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null || key !== latest) return;
        region.innerHTML = html;
        region.hidden = false;
      })
      .catch(function () { /* the button still works */ });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(check, 400);
  }

  title.addEventListener("input", later);
  summary.addEventListener("input", later);
})();
