// Interactive figures of a clinical readout, drawn with Plotly from the readout's plot_data()
// (vein2vein.clinical.figures.plot_data): waterfall, spider, swimmer, Kaplan-Meier OS and PFS.
// The same data draws the report's matplotlib figures, in the same colours (one colour map,
// vein2vein.clinical.colours.colour_map, handed over with the data): response categories,
// dose levels and events each have their own colours, and the KM bands and the spider plot's
// subject labels are in both.
(function () {
  "use strict";
  var node = document.getElementById("clinical-plot-data");
  if (!node || typeof Plotly === "undefined") { return; }
  var payload = JSON.parse(node.textContent);
  var data = payload.data;
  var colours = payload.colours;
  var doseColour = colours.dose;
  var events = colours.events;
  var config = { responsive: true, displaylogo: false };
  var base = { margin: { l: 60, r: 20, t: 40, b: 50 }, font: { size: 12 } };

  function layout(extra) { return Object.assign({}, base, extra); }
  function colourOfBor(label) {
    var key = colours.irecist_as_recist[label] || label;
    return colours.bor[key] || colours.bor.NE;
  }
  function doseLabel(group) {
    var dose = (data.dose_per_kg || {})[group];
    if (!dose) { return group; }
    var exp = 6;
    var m = dose / Math.pow(10, exp);
    return group + ": " + Number(m.toPrecision(3)) + " × 10^" + exp + " CAR-positive T cells/kg";
  }
  function thresholds() {
    return colours.thresholds.map(function (t) {
      return { type: "line", xref: "paper", x0: 0, x1: 1, y0: t.y, y1: t.y, line: { dash: "dash", width: 1, color: t.colour } };
    });
  }

  function waterfall() {
    var rows = data.waterfall;
    var seen = {};
    var traces = [];
    rows.forEach(function (r) {
      var bor = r.bor || "MISSING";
      traces.push({
        type: "bar", x: [r.subject_id], y: [r.best_pct_change], name: bor, legendgroup: bor,
        showlegend: !seen[bor], marker: { color: colourOfBor(bor), line: { color: "#333", width: 0.5 } },
        text: [r.new_lesion_pd ? "new lesion" : ""], textposition: "outside",
        hovertemplate: r.subject_id + " (" + r.dose_group + ")<br>best change %{y:.1f}%<br>" + bor + "<extra></extra>"
      });
      seen[bor] = true;
    });
    Plotly.newPlot("fig-waterfall", traces, layout({
      barmode: "overlay", legend: { title: { text: "Best overall response" } },
      xaxis: { type: "category", title: { text: "Subject" }, categoryorder: "array", categoryarray: rows.map(function (r) { return r.subject_id; }) },
      yaxis: { title: { text: "Best change in sum of diameters (%)" } },
      shapes: thresholds()
    }), config);
  }

  function spider() {
    var seen = {};
    var traces = data.spider.map(function (s) {
      var first = !seen[s.dose_group];
      seen[s.dose_group] = true;
      var last = s.week.length - 1;
      return {
        type: "scatter", mode: "lines+markers+text", x: s.week, y: s.pct_change, name: doseLabel(s.dose_group),
        legendgroup: s.dose_group, showlegend: first, line: { color: doseColour[s.dose_group] },
        // the subject's label at the end of its line, as in the report
        text: s.week.map(function (_, i) { return i === last ? s.subject_id : ""; }),
        textposition: "middle right", textfont: { size: 10, color: doseColour[s.dose_group] },
        marker: {
          symbol: s.new_lesion.map(function (n) { return n ? events.new_lesion.symbol : "circle"; }),
          size: s.new_lesion.map(function (n) { return n ? 11 : 6; }),
          color: s.new_lesion.map(function (n) { return n ? events.new_lesion.colour : doseColour[s.dose_group]; })
        },
        hovertemplate: s.subject_id + "<br>week %{x:.1f}: %{y:.1f}%<extra></extra>"
      };
    });
    Plotly.newPlot("fig-spider", traces, layout({
      legend: { title: { text: "Dose level" } },
      xaxis: { title: { text: "Weeks since infusion" } }, yaxis: { title: { text: "Change in sum of diameters (%)" } },
      shapes: thresholds()
    }), config);
  }

  function swimmer() {
    var rows = data.swimmer.slice().reverse();
    var ids = rows.map(function (r) { return r.subject_id; });
    var traces = [];
    var seen = {};
    rows.forEach(function (r) {
      traces.push({
        type: "bar", orientation: "h", y: [r.subject_id], x: [r.end_week || 0], name: doseLabel(r.dose_group),
        legendgroup: r.dose_group, showlegend: !seen[r.dose_group], marker: { color: doseColour[r.dose_group], line: { color: "#333", width: 0.4 } },
        hovertemplate: r.subject_id + " (" + (r.bor || "MISSING") + ")<br>" + (r.alive ? "alive at" : "died at") + " week %{x:.1f}<extra></extra>"
      });
      seen[r.dose_group] = true;
    });
    function marks(key, event) {
      var xs = [], ys = [];
      rows.forEach(function (r) { if (r[key] !== null && r[key] !== undefined) { xs.push(r[key]); ys.push(r.subject_id); } });
      var e = events[event];
      return { type: "scatter", mode: "markers", x: xs, y: ys, name: e.label, marker: { symbol: e.symbol, size: 11, color: e.colour, line: { width: 1, color: "#222" } } };
    }
    traces.push(marks("response_week", "response"));
    traces.push(marks("progression_week", "progression"));
    traces.push(marks("new_therapy_week", "new_therapy"));
    traces.push(marks("death_week", "death"));
    var alive = rows.filter(function (r) { return r.alive; });
    traces.push({
      type: "scatter", mode: "markers", x: alive.map(function (r) { return r.end_week; }), y: alive.map(function (r) { return r.subject_id; }),
      name: events.alive.label, marker: { symbol: events.alive.symbol, size: 11, color: events.alive.colour }
    });
    Plotly.newPlot("fig-swimmer", traces, layout({
      barmode: "overlay",
      xaxis: { title: { text: "Weeks since infusion" } },
      yaxis: { type: "category", categoryorder: "array", categoryarray: ids, automargin: true },
      height: Math.max(320, 26 * rows.length + 120)
    }), config);
  }

  function km(endpoint) {
    var traces = [];
    data.km[endpoint].forEach(function (c) {
      var colour = doseColour[c.dose_group] || "#444";
      var label = doseLabel(c.dose_group) + " (median " + (c.median_days === null ? "NR" : c.median_days + " d") + ")";
      // the pointwise confidence band (the report's figure shades the same band)
      traces.push({ type: "scatter", mode: "lines", x: c.time, y: c.upper, line: { shape: "hv", width: 0 }, hoverinfo: "skip", showlegend: false, legendgroup: c.dose_group, connectgaps: false, meta: "band-upper" });
      traces.push({ type: "scatter", mode: "lines", x: c.time, y: c.lower, line: { shape: "hv", width: 0 }, fill: "tonexty", fillcolor: colour + "2e", hoverinfo: "skip", showlegend: false, legendgroup: c.dose_group, connectgaps: false, meta: "band-lower" });
      traces.push({ type: "scatter", mode: "lines", x: c.time, y: c.survival, name: label, legendgroup: c.dose_group, line: { shape: "hv", color: colour, width: 2 }, hovertemplate: "day %{x}: S = %{y:.3f}<extra>" + c.dose_group + "</extra>" });
      traces.push({ type: "scatter", mode: "markers", x: c.censored_time, y: c.censored_survival, marker: { symbol: "line-ns-open", size: 10, color: colour }, showlegend: false, legendgroup: c.dose_group, hovertemplate: "censored day %{x}<extra></extra>" });
    });
    Plotly.newPlot("fig-km-" + endpoint, traces, layout({
      xaxis: { title: { text: "Days since infusion" }, rangemode: "tozero" },
      yaxis: { title: { text: endpoint === "os" ? "Overall survival" : "Progression-free survival" }, range: [0, 1.05] }
    }), config);
  }

  waterfall();
  spider();
  swimmer();
  km("os");
  km("pfs");
  document.body.setAttribute("data-figures-drawn", "5");
})();
