/* Patient page: her newest assessment's forecast with her own schedule (via /app/consult/forecast: the clinic's threshold). */
(function () {
  "use strict";
  var box = document.getElementById("patient-chart");
  if (!box || !window.NP) return;
  var status = document.getElementById("patient-chart-status");
  var request = JSON.parse(box.dataset.request);
  var marks = JSON.parse(box.dataset.sessionDays || "[]");
  NP.postJSON("/app/consult/forecast", request).then(function (res) {
    if (!res.ok) {
      NP.drawForecast(box, { series: [], emptyText: "No forecast (blocked plan or incomplete assessment)" });
      status.textContent = (res.data.errors || []).map(function (e) { return e.rule; }).join("; ");
      return;
    }
    var r = res.data;
    var series = [{ key: "patient", label: "her course (median, p10–p90 band)", colour: 1, curve: r.curve,
                    session_days: marks.length ? marks : r.session_days }];
    NP.drawForecast(box, { series: series, threshold: r.noticeable_threshold,
                           legend: document.getElementById("patient-legend") });
    var n = r.milestones && r.milestones.noticeable_months_after_last_initial;
    status.textContent = n ? "Stays noticeable about " + NP.medianText(n) + " after the last initial session (" +
      NP.bandText(n) + ")." + (r.threshold_note ? " " + r.threshold_note : "") : "";
  });
})();
