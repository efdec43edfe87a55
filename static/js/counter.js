// Character counts for fields with a limit (data-limit): how many characters are left, or how
// many too many, shown under the field as people type. Screen readers hear the count once
// typing pauses, not at every key. Without this script the server still names the field and
// its limit when a save is refused.
(function () {
  "use strict";
  var fields = document.querySelectorAll("[data-limit]");
  Array.prototype.forEach.call(fields, function (field) {
    var limit = parseInt(field.getAttribute("data-limit"), 10);
    if (!limit) return;
    var shown = document.createElement("p");
    shown.className = "char-count";
    shown.id = field.id + "-count";
    shown.setAttribute("aria-hidden", "true");
    var spoken = document.createElement("p");
    spoken.className = "visually-hidden";
    spoken.setAttribute("aria-live", "polite");
    field.insertAdjacentElement("afterend", spoken);
    field.insertAdjacentElement("afterend", shown);
    var timer = null;

    function words() {
      var left = limit - field.value.length;
      if (left >= 0) return "You have " + left + " character" + (left === 1 ? "" : "s") + " left";
      return "You have " + -left + " character" + (left === -1 ? "" : "s") + " too many";
    }

    function update() {
      var over = field.value.length > limit;
      shown.textContent = words();
      shown.classList.toggle("char-count-over", over);
      clearTimeout(timer);
      timer = setTimeout(function () { spoken.textContent = words(); }, 1000);
    }

    field.addEventListener("input", update);
    shown.textContent = words();
  });
})();
