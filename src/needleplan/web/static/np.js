/* needleplan: small helpers shared by the pages, and the forecast chart drawn as inline SVG.
   No dependencies, no build step. Exposes window.NP. */
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";

  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    if (parent) parent.appendChild(node);
    return node;
  }

  /* The page's texts in its language (a JSON block #np-strings written by the server; see
     needleplan/web/estimate_text.py). Pages without one get the English fallbacks below. */
  var STRINGS = (function () {
    var node = document.getElementById("np-strings");
    try { return node ? JSON.parse(node.textContent) : {}; } catch (e) { return {}; }
  })();
  function t(key, fallback, vars) {
    var text = Object.prototype.hasOwnProperty.call(STRINGS, key) ? STRINGS[key] : fallback;
    return String(text).replace(/\{(\w+)\}/g, function (m, name) {
      return vars && Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : m;
    });
  }
  var LANG = STRINGS.lang || document.documentElement.lang || "en";
  /* A number as the page's language writes it (1,5 in German). */
  function num(x) {
    try { return new Intl.NumberFormat(LANG, { maximumFractionDigits: 1 }).format(x); }
    catch (e) { return String(x); }
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(null, args); }, ms);
    };
  }

  /* POST JSON; resolves to {ok, status, data} and never throws on HTTP errors. */
  function postJSON(url, body, signal) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
      signal: signal
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        return { ok: res.ok, status: res.status, data: data };
      });
    });
  }

  /* Keep at most `max` points of a curve (every k-th, always the last). */
  function thinLine(line, max) {  // {day[], value[]} to at most ~max points, last day kept
    var n = line.day.length, step = Math.max(1, Math.ceil(n / max)), out = { day: [], value: [] };
    for (var i = 0; i < n; i += step) { out.day.push(line.day[i]); out.value.push(line.value[i]); }
    if ((n - 1) % step !== 0) { out.day.push(line.day[n - 1]); out.value.push(line.value[n - 1]); }
    return out;
  }

  function thin(curve, max) {
    var n = curve.day.length;
    var step = Math.max(1, Math.ceil(n / max));
    var out = { day: [], median: [], p10: [], p90: [] };
    for (var i = 0; i < n; i += step) {
      out.day.push(curve.day[i]); out.median.push(curve.median[i]);
      out.p10.push(curve.p10[i]); out.p90.push(curve.p90[i]);
    }
    if ((n - 1) % step !== 0) {
      out.day.push(curve.day[n - 1]); out.median.push(curve.median[n - 1]);
      out.p10.push(curve.p10[n - 1]); out.p90.push(curve.p90[n - 1]);
    }
    return out;
  }

  function niceStep(span, target) {
    var raw = span / Math.max(1, target);
    var mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
  }

  function fmt(x) { return Math.round(x * 10) / 10; }

  /* A guideline reason in plain words for a patient: no citation keys ("[seed-sessions]") and no
     leading code ("active_infection: "). */
  function plain(text) {
    return String(text || "").replace(/\s*\[[a-z0-9][a-z0-9._:-]*\]/gi, "")
      .replace(/^[a-z][a-z0-9_]*:\s+/, "").trim();
  }

  /* Draw forecast curves.
     opts.series: [{key, label, curve: {day[], median[], p10[], p90[]}, session_days[]}]
     opts.threshold: the noticeable improvement [% of pre-treatment firmness]
     opts.legend: optional <ul> to fill with the series labels */
  function drawForecast(container, opts) {
    // Draw at the container's own width so text keeps its size on a phone.
    var W = Math.max(280, Math.min(720, Math.round(container.clientWidth || 640)));
    var H = Math.max(240, Math.round(W * 0.5)), L = 44, R = 12, T = 24, B = 36;
    container.textContent = "";
    var series = opts.series.filter(function (s) { return s && s.curve && s.curve.day.length; });
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, class: "np-chart",
                          preserveAspectRatio: "xMidYMid meet", focusable: "false" }, container);
    if (!series.length) {
      el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "np-empty" }, svg)
        .textContent = opts.emptyText || t("no_forecast", "No forecast");
      return svg;
    }
    var curves = series.map(function (s) { return thin(s.curve, 360); });
    var maxDay = 0, lo = 0, hi = opts.threshold || 0;
    curves.forEach(function (c) {
      maxDay = Math.max(maxDay, c.day[c.day.length - 1]);
      c.p10.forEach(function (v) { lo = Math.min(lo, v); });
      c.p90.forEach(function (v) { hi = Math.max(hi, v); });
    });
    // Below zero, her untreated skin is drawn too: lower still, so the dip is ageing, not harm.
    var untreated = lo < 0 && opts.untreated && opts.untreated.day.length ? thinLine(opts.untreated, 360) : null;
    if (untreated) untreated.value.forEach(function (v) { lo = Math.min(lo, v); });
    var years = maxDay / 365.25;
    var ystep = niceStep(hi - lo, 5);
    lo = Math.floor(lo / ystep) * ystep; hi = Math.ceil(hi / ystep) * ystep;
    if (hi === lo) { hi = lo + ystep; }
    function X(day) { return L + (W - L - R) * (day / 365.25) / Math.max(years, 1e-9); }
    function Y(v) { return T + (H - T - B) * (hi - v) / (hi - lo); }

    var grid = el("g", { class: "np-grid" }, svg);
    for (var v = lo; v <= hi + 1e-9; v += ystep) {
      el("line", { x1: L, x2: W - R, y1: Y(v), y2: Y(v), class: v === 0 ? "np-zero" : "" }, grid);
      el("text", { x: L - 6, y: Y(v) + 4, "text-anchor": "end" }, grid).textContent = num(fmt(v)) + "%";
    }
    var xstep = years <= 3 ? 0.5 : years <= 12 ? 1 : 2;
    for (var yr = 0; yr <= years + 0.01; yr += xstep) {
      el("line", { x1: X(yr * 365.25), x2: X(yr * 365.25), y1: T, y2: H - B }, grid);
      el("text", { x: X(yr * 365.25), y: H - B + 16, "text-anchor": "middle" }, grid)
        .textContent = num(fmt(yr));
    }
    el("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle", class: "np-axis" }, svg)
      .textContent = t("axis_years", "years from the first session");
    el("text", { x: 4, y: 12, class: "np-axis" }, svg)
      .textContent = t("axis_gain", "firmness gain (%) vs. before treatment");

    curves.forEach(function (c, i) {
      var s = series[i], cls = "np-s" + (s.colour === undefined ? i : s.colour);
      var pts = [];
      for (var j = 0; j < c.day.length; j++) pts.push(fmt(X(c.day[j])) + "," + fmt(Y(c.p90[j])));
      for (var k = c.day.length - 1; k >= 0; k--) pts.push(fmt(X(c.day[k])) + "," + fmt(Y(c.p10[k])));
      el("polygon", { points: pts.join(" "), class: "np-band " + cls, "data-series": s.key }, svg);
    });
    curves.forEach(function (c, i) {
      var s = series[i], cls = "np-s" + (s.colour === undefined ? i : s.colour);
      var pts = [];
      for (var j = 0; j < c.day.length; j++) pts.push(fmt(X(c.day[j])) + "," + fmt(Y(c.median[j])));
      el("polyline", { points: pts.join(" "), class: "np-median " + cls, "data-series": s.key }, svg);
      (s.session_days || []).forEach(function (d) {
        el("line", { x1: X(d), x2: X(d), y1: H - B, y2: H - B - 6 - 2 * i, class: "np-session " + cls }, svg);
      });
    });
    if (untreated) {
      var upts = [];
      for (var u = 0; u < untreated.day.length; u++) {
        if (untreated.day[u] <= maxDay) upts.push(fmt(X(untreated.day[u])) + "," + fmt(Y(untreated.value[u])));
      }
      el("polyline", { points: upts.join(" "), class: "np-untreated" }, svg);
      el("text", { x: W - R - 4, y: Y(untreated.value[untreated.value.length - 1]) + 14, "text-anchor": "end",
                   class: "np-untreated-label" }, svg).textContent = t("untreated", "without treatment (ageing)");
    }
    if (opts.threshold) {
      el("line", { x1: L, x2: W - R, y1: Y(opts.threshold), y2: Y(opts.threshold), class: "np-threshold" }, svg);
      el("text", { x: W - R - 4, y: Y(opts.threshold) - 5, "text-anchor": "end", class: "np-threshold-label" }, svg)
        .textContent = t("noticeable", "noticeable");
    }
    if (opts.legend) {
      opts.legend.textContent = "";
      series.forEach(function (s, i) {
        var li = document.createElement("li");
        li.className = "np-s" + (s.colour === undefined ? i : s.colour);
        li.textContent = s.label;
        opts.legend.appendChild(li);
      });
    }
    return svg;
  }

  function showFieldErrors(form, errors) {
    form.querySelectorAll(".field-error").forEach(function (p) { p.hidden = true; p.textContent = ""; });
    var rest = [];
    (errors || []).forEach(function (e) {
      var name = (e.field || "").split(".")[0];
      var target = name ? form.querySelector('.field-error[data-for="' + name + '"]') : null;
      if (target) { target.hidden = false; target.textContent = e.rule; }
      else { rest.push((e.field ? e.field + ": " : "") + e.rule); }
    });
    return rest;
  }

  function monthsText(m) {
    if (m === null || m === undefined) return "–";
    if (m >= 24) return t("years", "{n} years", { n: num(fmt(m / 12)) });
    var n = Math.round(m);
    return n === 1 ? t("months_one", "{n} month", { n: n }) : t("months_other", "{n} months", { n: n });
  }

  // "noticeable months" band of a forecast's milestones: a value the horizon cut off is a lower
  // bound and reads "at least ...".
  function atLeast(m, censored) {
    return censored ? t("at_least", "at least {x}", { x: monthsText(m) }) : monthsText(m);
  }
  function medianText(n) { return atLeast(n.median, n.censored_at_horizon); }
  function bandText(n, joiner) {
    return atLeast(n.p10, n.p10_censored) + (joiner || "–") + atLeast(n.p90, n.p90_censored);
  }

  window.NP = { debounce: debounce, postJSON: postJSON, drawForecast: drawForecast,
                showFieldErrors: showFieldErrors, monthsText: monthsText, atLeast: atLeast, t: t, num: num, medianText: medianText, bandText: bandText, fmt: fmt, thin: thin, plain: plain };
})();
