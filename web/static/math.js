// Typeset the grader's feedback ("We read your answer as $\frac{14}{3}$") with the bundled KaTeX.
document.addEventListener("DOMContentLoaded", function () {
  if (typeof renderMathInElement !== "function") return;
  document.querySelectorAll(".feedback").forEach(function (el) {
    renderMathInElement(el, {delimiters: [{left: "$", right: "$", display: false}], throwOnError: false});
  });
});
