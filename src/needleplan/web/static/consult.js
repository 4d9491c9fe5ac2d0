/* Consultation page: the assessment form drives the plan and the forecast chart live. */
(function () {
  "use strict";
  var form = document.getElementById("assessment-form");
  if (!form) return;
  var $ = function (id) { return document.getElementById(id); };
  var LIST_FIELDS = ["areas", "concerns", "conditions", "genetics", "contraindications"];
  var SCENARIOS = {
    single: { label: "single session", colour: 0, extra: { sessions: 1 } },
    series: { label: "series, no maintenance", colour: 1, extra: {} },
    m6: { label: "series + maintenance every 6 months", colour: 2, extra: { maintenance_months: 6 } },
    m9: { label: "series + maintenance every 9 months", colour: 3, extra: { maintenance_months: 9 } },
    m12: { label: "series + maintenance every 12 months", colour: 4, extra: { maintenance_months: 12 } }
  };
  var ORDER = ["single", "series", "m6", "m9", "m12"];
  var seq = 0;
  var last = { results: {}, threshold: null };

  function assessment() {
    var a = {};
    form.querySelectorAll("select, input[type=number]").forEach(function (input) {
      var kind = input.dataset.kind, v = input.value;
      if (kind === "optint") { if (v !== "") a[input.name] = parseInt(v, 10); }
      else if (kind === "optenum") { if (v !== "") a[input.name] = v; }
      else if (kind === "int") { a[input.name] = /^-?\d+$/.test(v.trim()) ? parseInt(v, 10) : v; }
      else { a[input.name] = v; }
    });
    form.querySelectorAll('input[data-kind="bool"]').forEach(function (i) { a[i.name] = i.checked; });
    LIST_FIELDS.forEach(function (name) {
      a[name] = Array.prototype.map.call(
        form.querySelectorAll('input[name="' + name + '"]:checked'), function (i) { return i.value; });
    });
    return a;
  }

  function text(id, value) { $(id).textContent = value; }

  function renderPlan(plan) {
    text("p-sessions", plan.initial_sessions + (plan.session_range ? " (" + plan.session_range.min + "–" + plan.session_range.max + ")" : ""));
    text("p-interval", plan.interval_days.min + "–" + plan.interval_days.max + " days");
    text("p-maintenance", "every " + plan.maintenance_interval_months.min + "–" + plan.maintenance_interval_months.max + " months");
    text("p-case", plan.difficult_case ? "difficult" : "standard");
    text("p-guideline", "guideline " + plan.guideline_version);
    $("plan-blocked").hidden = !plan.blocked;
    var reasons = $("plan-block-reasons"); reasons.textContent = "";
    (plan.block_reasons || []).forEach(function (r) { var li = document.createElement("li"); li.textContent = NP.plain(r); reasons.appendChild(li); });
    var warnings = $("p-warnings"); warnings.textContent = "";
    (plan.warnings || []).forEach(function (w) { var li = document.createElement("li"); li.textContent = NP.plain(w); warnings.appendChild(li); });
    var body = $("p-rationale").querySelector("tbody"); body.textContent = "";
    (plan.rationale || []).forEach(function (r) {
      var tr = document.createElement("tr");
      [r.factor, NP.plain(r.effect)].forEach(function (c) { var td = document.createElement("td"); td.textContent = c; tr.appendChild(td); });
      body.appendChild(tr);
    });
  }

  function selected() {
    return Array.prototype.map.call(
      document.querySelectorAll("#scenario-toggles input:checked"), function (i) { return i.value; });
  }

  function draw() {
    var series = ORDER.filter(function (k) { return selected().indexOf(k) >= 0 && last.results[k]; })
      .map(function (k) {
        var r = last.results[k];
        return { key: k, label: SCENARIOS[k].label, colour: SCENARIOS[k].colour, curve: r.curve, session_days: r.session_days };
      });
    var ref = last.results.series;  // carries her untreated-ageing line (untreated: true)
    NP.drawForecast($("consult-chart"), { series: series, threshold: last.threshold, legend: $("consult-legend"),
                                          emptyText: "No forecast for a blocked plan",
                                          untreated: ref && ref.curve.untreated ? { day: ref.curve.day, value: ref.curve.untreated } : null });
    var body = $("milestones").querySelector("tbody"); body.textContent = "";
    ORDER.forEach(function (k) {
      var r = last.results[k]; if (!r) return;
      var m = r.milestones, n = m.noticeable_months_after_last_initial;
      var tr = document.createElement("tr");
      [SCENARIOS[k].label, String(r.session_days.length),
       NP.fmt(m.peak_improvement) + "% at " + NP.monthsText(m.peak_day / 30.4375),
       NP.medianText(n) + " (" + NP.bandText(n) + ")"]
        .forEach(function (c) { var td = document.createElement("td"); td.textContent = c; tr.appendChild(td); });
      body.appendChild(tr);
    });
  }

  function money(x, cur) {
    return x === null || x === undefined ? "–" : Math.round(x).toLocaleString() + " " + cur;
  }

  function costs(a, mine) {
    NP.postJSON("/app/consult/compare", { assessment: a }).then(function (res) {
      if (mine !== seq) return;
      $("costs").classList.remove("stale");
      $("costs").dataset.version = String(mine);
      var body = $("cost-table").querySelector("tbody"); body.textContent = "";
      if (!res.ok) { text("c-cheapest", ""); text("c-upkeep", ""); return; }
      var c = res.data, cur = c.currency;
      text("c-years", String(c.years));
      c.scenarios.forEach(function (sc) {
        var tr = document.createElement("tr");
        [sc.label, String(sc.initial_sessions + sc.maintenance_sessions), money(sc.cost, cur),
         NP.fmt(sc.noticeable_years_total), money(sc.cost_per_noticeable_year, cur)]
          .forEach(function (v) { var td = document.createElement("td"); td.textContent = v; tr.appendChild(td); });
        body.appendChild(tr);
      });
      var ch = c.cheapest;
      text("c-cheapest", ch ? "Cheapest plan that stays noticeable for " + c.keep_noticeable_years + " years: " +
        ch.initial_sessions + " sessions " + ch.interval_days + " days apart, then maintenance every " +
        ch.maintenance_months + " months (" + ch.sessions_total + " sessions, " + money(ch.cost, cur) + ")."
        : "No schedule within the guideline keeps it noticeable for " + c.keep_noticeable_years + " years.");
      var u = c.upkeep_vs_lapse;
      if (!c.noticeable_any) {
        text("c-upkeep", "No option keeps the improvement noticeable for this patient, so there are no savings to quote: discuss whether treatment is worth it.");
        return;
      }
      text("c-upkeep", "Upkeep every " + u.maintenance_months + " months costs " + money(u.upkeep.cost, cur) +
        "; letting results lapse and repeating the series costs " + money(u.lapse_and_repeat.cost, cur) +
        " (saving " + money(u.saving, cur) + ").");
    });
  }

  function update() {
    var mine = ++seq;
    var a = assessment();
    $("costs").classList.add("stale");
    text("plan-status", "updating…");
    NP.postJSON("/api/v1/plan", a).then(function (res) {
      if (mine !== seq) return null;
      var rest = NP.showFieldErrors(form, res.ok ? [] : res.data.errors);
      $("form-error").hidden = rest.length === 0;
      $("form-error").textContent = rest.join("; ");
      if (!res.ok) { text("plan-status", "check the highlighted fields"); return null; }
      renderPlan(res.data);
      if (res.data.blocked) {
        last = { results: {}, threshold: null }; draw(); text("plan-status", "blocked"); return null;
      }
      return Promise.all(ORDER.map(function (k) {
        return NP.postJSON("/app/consult/forecast", Object.assign({ assessment: a, curve_step_days: 7, untreated: k === "series" }, SCENARIOS[k].extra));
      })).then(function (all) {
        if (mine !== seq) return;
        var results = {}, threshold = null, failed = null;
        all.forEach(function (r, i) {
          if (r.ok) { results[ORDER[i]] = r.data; threshold = r.data.noticeable_threshold; }
          else if (!failed) { failed = r.data.errors; }
        });
        last = { results: results, threshold: threshold };
        var cal = results.series && results.series.calibration;
        text("m-calibration", !cal ? "" : cal === "default"
          ? "Calibration: the model as shipped with needleplan (published studies and guidance)."
          : "Calibration: this clinic's own (" + cal + ").");
        var note = results.series && results.series.threshold_note;
        text("m-threshold", note || "");
        // the weak-evidence notes of the factors this forecast carries (texts from the page)
        var factors = (results.series && results.series.factors) || [];
        document.querySelectorAll("#m-weak li").forEach(function (li) {
          li.hidden = factors.indexOf(li.dataset.factor) < 0;
        });
        draw();
        costs(a, mine);
        text("plan-status", failed ? "forecast unavailable: " + failed.map(function (e) { return e.rule; }).join("; ") : "");
        $("consult-chart").dataset.version = String(mine);
      });
    }).catch(function () { if (mine === seq) text("plan-status", "server not reachable"); });
  }

  // Load a stored assessment into the form (the booking panel, when a patient is chosen).
  function fill(a) {
    form.querySelectorAll("select, input[type=number]").forEach(function (input) {
      if (a[input.name] !== undefined) input.value = a[input.name] === null ? "" : String(a[input.name]);
    });
    form.querySelectorAll('input[data-kind="bool"]').forEach(function (i) {
      if (a[i.name] !== undefined) i.checked = !!a[i.name];
    });
    LIST_FIELDS.forEach(function (name) {
      var on = a[name] || [];
      form.querySelectorAll('input[name="' + name + '"]').forEach(function (i) { i.checked = on.indexOf(i.value) >= 0; });
    });
    update();
  }

  // Her age from her date of birth (the booking panel, when a patient is chosen or typed in).
  function setAge(age) {
    var input = form.querySelector('input[name="age"]');
    if (input && typeof age === "number") { input.value = String(age); update(); }
  }

  window.NPConsult = { assessment: assessment, fill: fill, setAge: setAge };  // used by the booking panel (booking.js)
  var later = NP.debounce(update, 250);
  form.addEventListener("input", later);
  form.addEventListener("change", later);
  form.addEventListener("submit", function (e) { e.preventDefault(); update(); });
  document.getElementById("scenario-toggles").addEventListener("change", draw);
  update();
})();
