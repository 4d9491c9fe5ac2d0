// The signing screen: draw on the canvas with Pointer Events (finger, pen or mouse), send the
// drawing as a PNG data URL in the form's "signature" field. An untouched canvas sends nothing,
// which the server refuses ("signature: is empty").
(function () {
  "use strict";
  var canvas = document.getElementById("signature-pad");
  var form = document.getElementById("consent-form");
  var field = document.getElementById("signature-data");
  if (!canvas || !form || !field) { return; }
  var ctx = canvas.getContext("2d");
  var drawing = false;
  var inked = false;
  var last = null;

  function point(event) {
    var box = canvas.getBoundingClientRect();
    return {
      x: (event.clientX - box.left) * (canvas.width / box.width),
      y: (event.clientY - box.top) * (canvas.height / box.height)
    };
  }
  function pen(event) {
    var width = event.pointerType === "pen" && event.pressure > 0 ? 1.5 + 3 * event.pressure : 3;
    ctx.lineWidth = width;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = "#141e50";
  }
  canvas.addEventListener("pointerdown", function (event) {
    event.preventDefault();
    drawing = true;
    last = point(event);
    if (canvas.setPointerCapture) { canvas.setPointerCapture(event.pointerId); }
  });
  canvas.addEventListener("pointermove", function (event) {
    if (!drawing) { return; }
    event.preventDefault();
    var next = point(event);
    pen(event);
    ctx.beginPath();
    ctx.moveTo(last.x, last.y);
    ctx.lineTo(next.x, next.y);
    ctx.stroke();
    last = next;
    inked = true;
  });
  function stop() { drawing = false; last = null; }
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);
  canvas.addEventListener("pointerleave", stop);
  var clear = document.getElementById("signature-clear");
  if (clear) {
    clear.addEventListener("click", function () {
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      inked = false;
      field.value = "";
    });
  }
  form.addEventListener("submit", function () {
    field.value = inked ? canvas.toDataURL("image/png") : "";
  });
}());
