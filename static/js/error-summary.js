// The error summary (templates/includes/error_summary.html): take focus when the page
// loads, so a screen reader reads the list and a keyboard user starts from it; a link in
// it moves focus to its field (a plain fragment link only scrolls), with the field's
// label in view above it.
(function () {
  "use strict";
  var summary = document.querySelector("[data-error-summary]");
  if (!summary) {
    return;
  }
  summary.focus();
  summary.addEventListener("click", function (event) {
    var link = event.target.closest("a[href^='#']");
    if (!link) {
      return;
    }
    var input = document.getElementById(link.getAttribute("href").slice(1));
    if (!input) {
      return;
    }
    event.preventDefault();
    var group = input.closest("fieldset") || input.closest(".field") || input;
    group.scrollIntoView();
    input.focus({ preventScroll: true });
  });
})();
