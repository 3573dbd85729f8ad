// Interactive figures of a clinical readout, drawn with Plotly from the readout's plot_data()
// (vein2vein.clinical.figures.plot_data): waterfall, spider, swimmer, Kaplan-Meier OS and PFS.
// The same data draws the report's matplotlib figures, so page and report always agree.
(function () {
  "use strict";
  var node = document.getElementById("clinical-plot-data");
  if (!node || typeof Plotly === "undefined") { return; }
  var payload = JSON.parse(node.textContent);
  var data = payload.data;
  var groupColour = payload.group_colours;
  var borColour = payload.bor_colours;
  var config = { responsive: true, displaylogo: false };
  var base = { margin: { l: 60, r: 20, t: 40, b: 50 }, font: { size: 12 } };

  function layout(extra) { return Object.assign({}, base, extra); }
  function colourOfBor(label) {
    var plain = { iCR: "CR", iPR: "PR", iSD: "SD", "NON-iCR/NON-iUPD": "NON-CR/NON-PD", iCPD: "PD", iUPD: "UPD" };
    var key = plain[label] || label;
    return borColour[key] || borColour.MISSING || "#9e9e9e";
  }
  function hline(y, colour) {
    return { type: "line", xref: "paper", x0: 0, x1: 1, y0: y, y1: y, line: { dash: "dash", width: 1, color: colour } };
  }

  function waterfall() {
    var rows = data.waterfall;
    var seen = {};
    var traces = [];
    rows.forEach(function (r) {
      var bor = r.bor || "MISSING";
      traces.push({
        type: "bar", x: [r.subject_id], y: [r.best_pct_change], name: bor, legendgroup: bor,
        showlegend: !seen[bor], marker: { color: colourOfBor(bor) },
        text: [r.new_lesion_pd ? "new lesion" : ""], textposition: "outside",
        hovertemplate: r.subject_id + " (" + r.dose_group + ")<br>best change %{y:.1f}%<br>" + bor + "<extra></extra>"
      });
      seen[bor] = true;
    });
    Plotly.newPlot("fig-waterfall", traces, layout({
      title: { text: "Waterfall: best % change of the sum of diameters" },
      barmode: "overlay", xaxis: { type: "category", title: { text: "Subject" }, categoryorder: "array", categoryarray: rows.map(function (r) { return r.subject_id; }) },
      yaxis: { title: { text: "Best % change from baseline" } },
      shapes: [hline(20, "#d6604d"), hline(-30, "#1b7837")]
    }), config);
  }

  function spider() {
    var seen = {};
    var traces = data.spider.map(function (s) {
      var first = !seen[s.dose_group];
      seen[s.dose_group] = true;
      return {
        type: "scatter", mode: "lines+markers", x: s.week, y: s.pct_change, name: s.dose_group,
        legendgroup: s.dose_group, showlegend: first, line: { color: groupColour[s.dose_group] },
        marker: { symbol: s.new_lesion.map(function (n) { return n ? "x" : "circle"; }), size: s.new_lesion.map(function (n) { return n ? 11 : 6; }) },
        hovertemplate: s.subject_id + "<br>week %{x:.1f}: %{y:.1f}%<extra></extra>"
      };
    });
    Plotly.newPlot("fig-spider", traces, layout({
      title: { text: "Spider plot: % change from baseline over time (x = new lesion)" },
      xaxis: { title: { text: "Weeks since infusion" } }, yaxis: { title: { text: "% change from baseline" } },
      shapes: [hline(20, "#d6604d"), hline(-30, "#1b7837")]
    }), config);
  }

  function swimmer() {
    var rows = data.swimmer.slice().reverse();
    var ids = rows.map(function (r) { return r.subject_id; });
    var traces = [];
    var seen = {};
    rows.forEach(function (r) {
      traces.push({
        type: "bar", orientation: "h", y: [r.subject_id], x: [r.end_week || 0], name: r.dose_group,
        legendgroup: r.dose_group, showlegend: !seen[r.dose_group], marker: { color: groupColour[r.dose_group] },
        hovertemplate: r.subject_id + " (" + (r.bor || "MISSING") + ")<br>" + (r.alive ? "alive at" : "died at") + " week %{x:.1f}<extra></extra>"
      });
      seen[r.dose_group] = true;
    });
    function events(key, symbol, colour, label) {
      var xs = [], ys = [];
      rows.forEach(function (r) { if (r[key] !== null && r[key] !== undefined) { xs.push(r[key]); ys.push(r.subject_id); } });
      return { type: "scatter", mode: "markers", x: xs, y: ys, name: label, marker: { symbol: symbol, size: 11, color: colour, line: { width: 1, color: "#222" } } };
    }
    traces.push(events("response_week", "triangle-up", "#5aae61", "response (first CR/PR)"));
    traces.push(events("progression_week", "x", "#d6604d", "progression"));
    traces.push(events("new_therapy_week", "diamond", "#7b3294", "surgery / new therapy"));
    traces.push(events("death_week", "square", "#222222", "death"));
    var alive = rows.filter(function (r) { return r.alive; });
    traces.push({
      type: "scatter", mode: "markers", x: alive.map(function (r) { return r.end_week; }), y: alive.map(function (r) { return r.subject_id; }),
      name: "alive (continuing)", marker: { symbol: "arrow-right", size: 13, color: "#444" }
    });
    Plotly.newPlot("fig-swimmer", traces, layout({
      title: { text: "Swimmer plot: infusion to death or last contact" }, barmode: "overlay",
      xaxis: { title: { text: "Weeks since infusion" } },
      yaxis: { type: "category", categoryorder: "array", categoryarray: ids, automargin: true },
      height: Math.max(320, 26 * rows.length + 120)
    }), config);
  }

  function km(endpoint, title) {
    var traces = [];
    data.km[endpoint].forEach(function (c) {
      var colour = groupColour[c.dose_group] || "#444";
      var label = c.dose_group + " (median " + (c.median_days === null ? "NR" : c.median_days + " d") + ")";
      traces.push({ type: "scatter", mode: "lines", x: c.time, y: c.upper, line: { shape: "hv", width: 0 }, hoverinfo: "skip", showlegend: false, legendgroup: c.dose_group, connectgaps: false });
      traces.push({ type: "scatter", mode: "lines", x: c.time, y: c.lower, line: { shape: "hv", width: 0 }, fill: "tonexty", fillcolor: colour + "22", hoverinfo: "skip", showlegend: false, legendgroup: c.dose_group, connectgaps: false });
      traces.push({ type: "scatter", mode: "lines", x: c.time, y: c.survival, name: label, legendgroup: c.dose_group, line: { shape: "hv", color: colour, width: 2 }, hovertemplate: "day %{x}: S = %{y:.3f}<extra>" + c.dose_group + "</extra>" });
      traces.push({ type: "scatter", mode: "markers", x: c.censored_time, y: c.censored_survival, marker: { symbol: "line-ns-open", size: 10, color: colour }, showlegend: false, legendgroup: c.dose_group, hovertemplate: "censored day %{x}<extra></extra>" });
    });
    Plotly.newPlot("fig-km-" + endpoint, traces, layout({
      title: { text: title + " (Kaplan-Meier, " + ((data.km[endpoint][0] || {}).conf_type || "") + " 95% band)" },
      xaxis: { title: { text: "Days since infusion" }, rangemode: "tozero" },
      yaxis: { title: { text: "Probability" }, range: [0, 1.05] }
    }), config);
  }

  waterfall();
  spider();
  swimmer();
  km("os", "Overall survival");
  km("pfs", "Progression-free survival");
  document.body.setAttribute("data-figures-drawn", "5");
})();
