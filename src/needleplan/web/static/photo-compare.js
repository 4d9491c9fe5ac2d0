// The before/after overlay: the slider sets the after photo's opacity over the before photo.
(function () {
  "use strict";
  var slider = document.getElementById("overlay-opacity");
  var top = document.getElementById("overlay-after");
  var shown = document.getElementById("overlay-value");
  if (!slider || !top) { return; }
  function apply() {
    var value = Number(slider.value);
    top.style.opacity = String(value / 100);
    top.setAttribute("data-opacity", String(value));
    if (shown) { shown.textContent = String(value); }
  }
  slider.addEventListener("input", apply);
  apply();
}());
