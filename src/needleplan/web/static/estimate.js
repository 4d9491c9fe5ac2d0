/* The public estimator: plain answers -> assessment JSON -> /api/v1/plan and /api/v1/forecast. */
(function () {
  "use strict";
  var form = document.getElementById("estimate-form");
  if (!form) return;
  var $ = function (id) { return document.getElementById(id); };
  var FACE_PARTS = ["under_eyes", "forehead", "cheeks", "perioral"];

  function checked(name) {
    return Array.prototype.map.call(
      form.querySelectorAll('input[name="' + name + '"]:checked'), function (i) { return i.value; });
  }
  function radio(name) {
    var i = form.querySelector('input[name="' + name + '"]:checked');
    return i ? i.value : undefined;
  }

  function assessment() {
    var areas = checked("areas");
    if (areas.indexOf("full_face") >= 0) {   // the whole face already includes its parts
      areas = areas.filter(function (a) { return FACE_PARTS.indexOf(a) < 0; });
    }
    var conditions = checked("conditions");
    var contraindications = checked("contraindications");
    var age = form.age.value.trim();
    return {
      age: /^\d+$/.test(age) ? parseInt(age, 10) : age,
      severity: radio("severity"),
      areas: areas,
      goal: radio("goal"),
      smoking: radio("smoking"),
      sun_exposure: radio("sun_exposure"),
      spf_habit: form.spf_habit.checked,
      sun_damage_history: form.sun_damage_history.checked,
      conditions: conditions,
      genetics: checked("genetics"),
      aftercare: radio("aftercare"),
      contraindications: contraindications
    };
  }

  var PLAIN_FIELDS = { age: "Age", areas: "Areas", severity: "Skin" };

  function showError(errors) {
    var rest = NP.showFieldErrors(form, errors);
    var box = $("form-error");
    box.hidden = rest.length === 0;
    box.textContent = rest.join("; ");
  }

  function weeks(days) { return Math.round(days / 7); }

  function summaryText(plan, series) {
    var m = series && series.milestones && series.milestones.noticeable_months_after_last_initial;
    return "Estimate: " + plan.initial_sessions + " sessions every " + weeks(plan.interval_days.min) +
      "-" + weeks(plan.interval_days.max) + " weeks; top-up every " +
      plan.maintenance_interval_months.min + "-" + plan.maintenance_interval_months.max +
      " months" + (m ? "; noticeable about " + NP.monthsText(m.median) + " without top-ups" : "");
  }

  function run(ev) {
    if (ev) ev.preventDefault();
    showError([]);
    var a = assessment();
    var button = $("estimate-button");
    button.disabled = true;
    NP.postJSON("/api/v1/plan", a).then(function (res) {
      if (!res.ok) { showError((res.data && res.data.errors) || [{ rule: "Please check your answers." }]); return null; }
      var plan = res.data;
      $("result").hidden = false;
      $("blocked").hidden = !plan.blocked;
      $("estimate-figures").hidden = !!plan.blocked;
      if (plan.blocked) {
        var ul = $("blocked-reasons"); ul.textContent = "";
        (plan.block_reasons || []).forEach(function (r) {
          var li = document.createElement("li"); li.textContent = NP.plain(r); ul.appendChild(li);
        });
        $("result").scrollIntoView({ behavior: "smooth" });
        return null;
      }
      $("r-sessions").textContent = plan.initial_sessions + " sessions" +
        (plan.session_range ? " (" + plan.session_range.min + "–" + plan.session_range.max + ")" : "");
      $("r-spacing").textContent = "every " + weeks(plan.interval_days.min) + "–" + weeks(plan.interval_days.max) + " weeks";
      $("r-upkeep").textContent = "one session every " + plan.maintenance_interval_months.min + "–" +
        plan.maintenance_interval_months.max + " months";
      var warn = $("r-warnings"); warn.textContent = "";
      (plan.warnings || []).forEach(function (w) {
        var li = document.createElement("li"); li.textContent = NP.plain(w); warn.appendChild(li);
      });
      var upkeep = Math.round((plan.maintenance_interval_months.min + plan.maintenance_interval_months.max) / 2);
      var base = { assessment: a, curve_step_days: 7 };  // the server's standard draws, seed and horizon
      return Promise.all([
        NP.postJSON("/api/v1/forecast", Object.assign({ untreated: true }, base)),
        NP.postJSON("/api/v1/forecast", Object.assign({ maintenance_months: upkeep }, base))
      ]).then(function (both) {
        var bad = both.filter(function (r) { return !r.ok; })[0];
        if (bad) { showError(bad.data.errors || [{ rule: "The forecast is not available." }]); return; }
        var without = both[0].data, withUpkeep = both[1].data;
        NP.drawForecast($("estimate-chart"), {
          threshold: without.noticeable_threshold,
          legend: $("estimate-legend"),
          untreated: { day: without.curve.day, value: without.curve.untreated },
          series: [
            { key: "series", label: "After the sessions, no top-ups", curve: without.curve, session_days: without.session_days, colour: 1 },
            { key: "maintenance", label: "With a top-up every " + upkeep + " months", curve: withUpkeep.curve, colour: 3 }
          ]
        });
        var m = without.milestones.noticeable_months_after_last_initial;
        $("r-reading").textContent = "Without top-ups, most people like you notice the tightening for about " +
          NP.medianText(m) + " after the last session (in the model 8 in 10 outcomes are between " +
          NP.bandText(m, " and ") + ": people with the same answers differ, and the model's own numbers are uncertain). " +
          "Regular top-ups keep it going much longer. How the result fades over the years rests on weak evidence: " +
          "no trial has followed patients for more than about 6 months after a course.";
        $("estimate-summary").value = summaryText(plan, without);
        $("result").scrollIntoView({ behavior: "smooth" });
      });
    }).catch(function () {
      showError([{ rule: "Could not reach the server. Please try again." }]);
    }).then(function () { button.disabled = false; });
  }

  form.addEventListener("submit", run);
})();
