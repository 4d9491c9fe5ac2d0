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

  var t = NP.t;

  /* Her answers checked before anything is sent, with friendly words in the page's language. */
  function localProblems(a) {
    var out = [];
    if (typeof a.age !== "number" || a.age < 18 || a.age > 90) {
      out.push({ field: "age", rule: t("error_age", "Please enter your age in whole years, from 18 to 90.") });
    }
    if (!a.areas.length) out.push({ field: "areas", rule: t("error_areas", "Please tick at least one area.") });
    return out;
  }

  /* The server's refusal shown in plain words: the fields the page knows get their own message,
     anything else one friendly line (never the validation internals). */
  function friendly(errors) {
    var out = [], general = false;
    (errors || []).forEach(function (e) {
      var name = (e.field || "").split(".")[0];
      if (name === "age") out.push({ field: "age", rule: t("error_age", "Please enter your age in whole years, from 18 to 90.") });
      else if (name === "areas") out.push({ field: "areas", rule: t("error_areas", "Please tick at least one area.") });
      else general = true;
    });
    if (general || !out.length) out.push({ rule: t("error_answers", "Please check your answers.") });
    return out;
  }

  function showError(errors) {
    var rest = NP.showFieldErrors(form, errors);
    var box = $("form-error");
    box.hidden = rest.length === 0;
    box.textContent = rest.join(" ");
  }

  /* A guideline reason in her language: the page has a plain text for each contraindication it
     asks about ("pregnancy: ..." -> its translation); anything else in plain English words. */
  function reasonText(r) {
    var code = (/^([a-z][a-z0-9_]*):/.exec(String(r || "")) || [])[1];
    return code ? t("reason." + code, NP.plain(r)) : NP.plain(r);
  }

  function weeks(days) { return Math.round(days / 7); }

  function englishMonths(m) { return m >= 24 ? NP.fmt(m / 12) + " years" : Math.round(m) + " months"; }

  /* The estimate as the clinic's staff read it with her contact request (English, like the staff
     pages). */
  function summaryText(plan, series) {
    var m = series && series.milestones && series.milestones.noticeable_months_after_last_initial;
    return "Estimate: " + plan.initial_sessions + " sessions every " + weeks(plan.interval_days.min) +
      "-" + weeks(plan.interval_days.max) + " weeks; top-up every " +
      plan.maintenance_interval_months.min + "-" + plan.maintenance_interval_months.max +
      " months" + (m && m.median !== null ? "; noticeable about " + englishMonths(m.median) + " without top-ups" : "") +
      " (page language: " + (NP.t("lang", "en")) + ")";
  }

  function run(ev) {
    if (ev) ev.preventDefault();
    showError([]);
    var a = assessment();
    var mine = localProblems(a);
    if (mine.length) { showError(mine); return; }
    var button = $("estimate-button");
    button.disabled = true;
    NP.postJSON("/api/v1/plan", a).then(function (res) {
      if (!res.ok) { showError(friendly(res.data && res.data.errors)); return null; }
      var plan = res.data;
      $("result").hidden = false;
      $("blocked").hidden = !plan.blocked;
      $("estimate-figures").hidden = !!plan.blocked;
      if (plan.blocked) {
        var ul = $("blocked-reasons"); ul.textContent = "";
        (plan.block_reasons || []).forEach(function (r) {
          var li = document.createElement("li"); li.textContent = reasonText(r); ul.appendChild(li);
        });
        $("result").scrollIntoView({ behavior: "smooth" });
        return null;
      }
      var n = plan.initial_sessions;
      $("r-sessions").textContent = (n === 1 ? t("sessions_one", "{n} session", { n: n }) : t("sessions_other", "{n} sessions", { n: n })) +
        (plan.session_range ? " (" + plan.session_range.min + "–" + plan.session_range.max + ")" : "");
      $("r-spacing").textContent = t("spacing", "every {min}–{max} weeks",
        { min: weeks(plan.interval_days.min), max: weeks(plan.interval_days.max) });
      $("r-upkeep").textContent = t("upkeep", "one session every {min}–{max} months",
        { min: plan.maintenance_interval_months.min, max: plan.maintenance_interval_months.max });
      var warn = $("r-warnings"); warn.textContent = "";
      (plan.warnings || []).forEach(function (w) {
        var li = document.createElement("li"); li.textContent = reasonText(w); warn.appendChild(li);
      });
      var upkeep = Math.round((plan.maintenance_interval_months.min + plan.maintenance_interval_months.max) / 2);
      var base = { assessment: a, curve_step_days: 7 };  // the server's standard draws, seed and horizon
      return Promise.all([
        NP.postJSON("/api/v1/forecast", Object.assign({ untreated: true }, base)),
        NP.postJSON("/api/v1/forecast", Object.assign({ maintenance_months: upkeep }, base))
      ]).then(function (both) {
        var bad = both.filter(function (r) { return !r.ok; })[0];
        if (bad) { showError([{ rule: t("error_forecast", "The forecast is not available just now. Please try again later.") }]); return; }
        var without = both[0].data, withUpkeep = both[1].data;
        NP.drawForecast($("estimate-chart"), {
          threshold: without.noticeable_threshold,
          legend: $("estimate-legend"),
          untreated: { day: without.curve.day, value: without.curve.untreated },
          series: [
            { key: "series", label: t("series_label", "After the sessions, no top-ups"), curve: without.curve, session_days: without.session_days, colour: 1 },
            { key: "maintenance", label: t("maintenance_label", "With a top-up every {n} months", { n: upkeep }), curve: withUpkeep.curve, colour: 3 }
          ]
        });
        var m = without.milestones.noticeable_months_after_last_initial;
        $("r-reading").textContent = t("reading",
          "Without top-ups, most people like you notice the tightening for about {median} after the last session " +
          "(in the model 8 in 10 outcomes are between {low} and {high}: people with the same answers differ, and " +
          "the model's own numbers are uncertain). Regular top-ups keep it going much longer. How the result " +
          "fades over the years rests on weak evidence: no trial has followed patients for more than about " +
          "6 months after a course.",
          { median: NP.medianText(m), low: NP.atLeast(m.p10, m.p10_censored), high: NP.atLeast(m.p90, m.p90_censored) });
        var notes = [];
        (without.factors || []).forEach(function (f) {
          var note = t("weak:" + f, "");
          if (note && notes.indexOf(note) < 0) notes.push(note);
        });
        $("r-weak").textContent = notes.join(" ");
        $("estimate-summary").value = summaryText(plan, without);
        $("result").scrollIntoView({ behavior: "smooth" });
      });
    }).catch(function () {
      showError([{ rule: t("error_network", "Could not reach the clinic's server. Please try again.") }]);
    }).then(function () { button.disabled = false; });
  }

  form.addEventListener("submit", run);
})();
