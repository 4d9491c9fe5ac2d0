/* Consultation page: the "book this course" panel. Needs consult.js (NPConsult.assessment). */
(function () {
  "use strict";
  var panel = document.getElementById("booking-panel");
  if (!panel) return;
  var $ = function (id) { return document.getElementById(id); };
  var chosen = null, lastBody = null;
  // One key per filled-in booking: a double click or a resent request books once.
  function freshKey() {
    return (window.crypto && crypto.randomUUID) ? crypto.randomUUID()
      : String(Date.now()) + "-" + Math.random().toString(36).slice(2);
  }
  var idemKey = freshKey();

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json().then(function (d) { return { ok: r.ok, data: d }; }); });
  }

  function post(body) {
    return fetch("/app/booking/course", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "X-CSRF-Token": $("booking-csrf").value, "Idempotency-Key": idemKey },
      body: JSON.stringify(body)
    }).then(function (r) {
      if (r.status === 201) idemKey = freshKey();  // booked: the next booking is a new one
      return r.json().then(function (d) { return { ok: r.ok, status: r.status, data: d }; });
    });
  }

  getJSON("/app/booking/options").then(function (res) {
    if (!res.ok) { showError("Booking is not available: " + ((res.data.errors || [{}])[0].rule || "no clinic database")); $("bk-submit").disabled = true; return; }
    $("bk-start").value = res.data.today;
    res.data.practitioners.forEach(function (p) {
      var o = document.createElement("option"); o.value = String(p.id); o.textContent = p.name; $("bk-practitioner").appendChild(o);
    });
  });

  panel.querySelectorAll('input[name="bk-mode"]').forEach(function (r) {
    r.addEventListener("change", function () {
      var isNew = panel.querySelector('input[name="bk-mode"]:checked').value === "new";
      $("bk-new").hidden = !isNew; $("bk-existing").hidden = isNew;
    });
  });

  // A new patient's date of birth fills the consultation's age (the server checks they agree).
  $("bk-birth").addEventListener("change", function () {
    var v = $("bk-birth").value;
    if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(v)) return;
    var b = v.split("-").map(Number), t = new Date(), m = t.getMonth() + 1;
    var age = t.getFullYear() - b[0] - ((m < b[1] || (m === b[1] && t.getDate() < b[2])) ? 1 : 0);
    if (age >= 0 && age < 130) window.NPConsult.setAge(age);
  });

  function choose(p) {
    chosen = p;
    $("bk-chosen").textContent = "chosen: " + p.name + " (born " + p.birth_date + ", " + p.mrn + ")";
    $("bk-results").textContent = "";
    $("bk-save").disabled = false;
    // Her latest assessment fills the consultation form (a newer one is saved or booked from it).
    getJSON("/app/consult/patients/" + p.id + "/assessment").then(function (res) {
      if (chosen !== p || !res.ok) return;
      if (res.data.assessment) {
        window.NPConsult.fill(Object.assign({}, res.data.assessment, { age: res.data.age_today }));
        $("bk-loaded").textContent = "The latest assessment (" + res.data.assessed_at.slice(0, 10) + ") is loaded into the form.";
      } else {
        window.NPConsult.setAge(res.data.age_today);
        $("bk-loaded").textContent = "No assessment on record yet: the form keeps its answers, with the age from the date of birth.";
      }
    });
  }

  $("bk-save").addEventListener("click", function () {
    if (!chosen) { showError("Choose a patient first."); return; }
    $("bk-save").disabled = true; $("bk-error").hidden = true; $("bk-saved").hidden = true;
    fetch("/app/consult/save", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "X-CSRF-Token": $("booking-csrf").value },
      body: JSON.stringify({ patient_id: chosen.id, assessment: window.NPConsult.assessment() })
    }).then(function (r) { return r.json().then(function (d) { return { ok: r.ok, data: d }; }); })
      .then(function (res) {
        $("bk-save").disabled = false;
        if (!res.ok) {
          var d = res.data || {};
          showError(d.message || (d.errors || []).map(function (e) { return (e.field ? e.field + ": " : "") + e.rule; }).join("; ") || "not saved");
          return;
        }
        $("bk-saved").hidden = false;
        $("bk-saved").textContent = "Saved on " + chosen.name + "'s record (assessment " + res.data.assessment_id + "); nothing was booked.";
      })
      .catch(function () { $("bk-save").disabled = false; showError("No answer from the server: reload the page and try again."); });
  });

  $("bk-search").addEventListener("input", NP.debounce(function () {
    var q = $("bk-search").value.trim();
    if (q.length < 2) { $("bk-results").textContent = ""; return; }
    getJSON("/app/booking/patients?q=" + encodeURIComponent(q)).then(function (res) {
      var ul = $("bk-results"); ul.textContent = "";
      ((res.data && res.data.patients) || []).forEach(function (p) {
        var li = document.createElement("li"), b = document.createElement("button");
        b.type = "button"; b.className = "link"; b.textContent = p.name + " · born " + p.birth_date;
        b.addEventListener("click", function () { choose(p); });
        li.appendChild(b); ul.appendChild(li);
      });
      if (!ul.children.length) { var li = document.createElement("li"); li.textContent = "no match"; ul.appendChild(li); }
    });
  }, 200));

  function showError(text) { $("bk-error").hidden = false; $("bk-error").textContent = text; }

  function render(data) {
    $("bk-result").hidden = false; $("bk-error").hidden = true; $("bk-overrun").hidden = true;
    var ol = $("bk-sessions"); ol.textContent = "";
    data.sessions.forEach(function (s) {
      var li = document.createElement("li"); li.textContent = s.label + " · " + s.practitioner; ol.appendChild(li);
    });
    var ul = $("bk-warnings"); ul.textContent = "";
    data.warnings.forEach(function (w) { var li = document.createElement("li"); li.textContent = w; ul.appendChild(li); });
    $("bk-zone").textContent = "Times in " + (data.zone || data.timezone) + " (the clinic's clock).";
    $("bk-ics").href = data.ics_url;
    $("bk-calendar").href = data.sessions.length ? data.sessions[0].week_url : "/app/calendar";
    panel.dataset.courseId = String(data.course_id);
  }

  function submit(body) {
    $("bk-submit").disabled = true; $("bk-error").hidden = true; $("bk-overrun").hidden = true;
    post(body).then(function (res) {
      $("bk-submit").disabled = false;
      if (res.ok) { render(res.data); return; }
      var d = res.data || {};
      showError(d.message || (d.errors || []).map(function (e) { return (e.field ? e.field + ": " : "") + e.rule; }).join("; ") || "booking failed");
      var alt = d.scheduling && d.scheduling.alternative;
      if (alt) { $("bk-overrun").hidden = false; $("bk-overrun").textContent = "Book anyway, with session " + alt.session_number + " on " + alt.text.replace(/^nearest feasible: /, ""); }
    }).catch(function () { $("bk-submit").disabled = false; showError("No answer from the server: you may have been signed out. Reload the page and check the calendar before booking again."); });
  }

  $("bk-submit").addEventListener("click", function () {
    var body = { assessment: window.NPConsult.assessment(), start: $("bk-start").value,
                 practitioner_id: $("bk-practitioner").value };
    if (panel.querySelector('input[name="bk-mode"]:checked').value === "new") {
      body.new_patient = { given_name: $("bk-given").value, family_name: $("bk-family").value,
                           birth_date: $("bk-birth").value || null, consent_treatment: $("bk-consent").checked };
    } else if (chosen) { body.patient_id = chosen.id; }
    lastBody = body; submit(body);
  });
  $("bk-overrun").addEventListener("click", function () {
    if (lastBody) submit(Object.assign({}, lastBody, { allow_overrun: true }));
  });
})();
