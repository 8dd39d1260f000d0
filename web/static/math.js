// Typeset maths with the bundled KaTeX. The server has already escaped every text: auto-render
// reads text nodes and KaTeX builds the DOM itself, so student text never becomes markup.
//  .feedback, .math: $...$, \(...\), $$...$$ and \[...\] inside the text.
//  .tex[data-tex]: the whole attribute is one LaTeX expression (the grader's reading of a key).
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  var delimiters = [
    {left: "$$", right: "$$", display: true},
    {left: "\\[", right: "\\]", display: true},
    {left: "$", right: "$", display: false},
    {left: "\\(", right: "\\)", display: false}
  ];
  if (typeof renderMathInElement === "function") {
    document.querySelectorAll(".feedback, .math").forEach(function (el) {
      renderMathInElement(el, {delimiters: delimiters, throwOnError: false});
    });
  }
  if (typeof katex === "object") {
    document.querySelectorAll(".tex[data-tex]").forEach(function (el) {
      katex.render(el.getAttribute("data-tex"), el, {throwOnError: false, displayMode: false});
    });
  }
});
