// Small-screen navigation: the "Menu" button opens and closes the links. Without JavaScript the
// links simply wrap under the brand (the `no-js` class stays on <html>).
(function () {
  "use strict";
  document.documentElement.classList.remove("no-js");
  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.querySelector(".nav-toggle");
    var header = document.querySelector("header.site");
    if (!toggle || !header) return;
    toggle.addEventListener("click", function () {
      var open = header.classList.toggle("nav-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  });
})();
