/*
 * The sgdnoise dashboard: draws the listeners' records and iteration scalars with uPlot.
 *
 * Live (served by org.sgdnoise.listeners.Dashboard): polls api/records?since=N and api/scalars every second.
 * Static (Dashboard.renderStatic): reads window.SGDNOISE_DATA = {title, tables, records, scalars} and never polls.
 * window.sgdnoiseState says what is drawn (for tests and the curious): point counts per chart, polls, errors.
 */
(function () {
  'use strict';

  var POLL_MS = 1000;
  var HEIGHT = 260;
  var PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf',
    '#7f7f7f', '#bcbd22'];
  var WORKER_DASH = [[], [6, 3], [2, 3], [10, 3, 2, 3], [1, 1]];

  var embedded = window.SGDNOISE_DATA || null;
  var state = {
    mode: embedded ? 'static' : 'live',
    polls: 0,
    lastSeq: 0,
    records: 0,
    probes: 0,
    loops: 0,
    scalarPoints: 0,
    updates: 0,
    errors: [],
    charts: {}
  };
  window.sgdnoiseState = state;
  window.addEventListener('error', function (e) {
    state.errors.push(String(e.message || e));
  });

  var probes = [];   // probe records, arrival order
  var loops = [];    // loop-verdict records, arrival order
  var scalars = null;
  var scalarsOffered = -1;

  // ---------- number formatting and axes ----------

  function trim(s) {
    return String(Number(s));
  }

  /** Tick labels of one axis in one style: plain decimals, or a·10^b for all of them when any needs it. */
  function formatTicks(values) {
    var exp = values.some(function (v) {
      var a = Math.abs(v);
      return v != null && a !== 0 && (a >= 1e5 || a < 1e-3);
    });
    return values.map(function (v) {
      if (v == null) {
        return '';
      }
      if (v === 0) {
        return '0';
      }
      if (exp) {
        var p = v.toExponential(2).split('e');
        return trim(p[0]) + 'e' + Number(p[1]);
      }
      return trim(v.toPrecision(4));
    });
  }

  function fmt(v) {
    return v == null || !isFinite(v) ? '–' : formatTicks([v])[0];
  }

  function niceStep(raw) {
    var e = Math.pow(10, Math.floor(Math.log10(raw)));
    var m = raw / e;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * e;
  }

  function linearTicks(min, max, n) {
    if (!(max > min)) {
      return [min];
    }
    var step = niceStep((max - min) / n);
    var out = [];
    for (var v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) {
      out.push(Number(v.toPrecision(12)));
    }
    return out;
  }

  /** Log-axis ticks: decades for wide ranges, 1-2-5 or 1…9 within a few decades, nice linear ticks within one. */
  function logSplits(u, axisIdx, min, max) {
    if (!(min > 0) || !(max > min)) {
      return [min];
    }
    var lo = Math.log10(min);
    var hi = Math.log10(max);
    var span = hi - lo;
    if (span < 0.6) {
      return linearTicks(min, max, 4);
    }
    var mults = span > 4 ? [1] : span > 1.6 ? [1, 2, 5] : [1, 2, 3, 5, 7];
    var step = span > 10 ? Math.ceil(span / 8) : 1;
    var out = [];
    for (var e = Math.floor(lo); e <= Math.ceil(hi); e += step) {
      for (var i = 0; i < mults.length; i++) {
        var v = Number(mults[i] + 'e' + e);
        if (v >= min * (1 - 1e-9) && v <= max * (1 + 1e-9)) {
          out.push(v);
        }
      }
    }
    return out.length >= 2 ? out : linearTicks(min, max, 4);
  }

  function logRange(u, min, max) {
    if (min == null || !(min > 0) || !(max > 0)) {
      return [1, 10];
    }
    if (max / min < 1.5) {
      var mid = Math.sqrt(min * max);
      return [mid / 1.5, mid * 1.5];
    }
    return [min / 1.3, max * 1.3];
  }

  function linRange(u, min, max) {
    if (min == null) {
      return [0, 1];
    }
    if (min === max) {
      var d = min === 0 ? 1 : Math.abs(min) * 0.1;
      return [min - d, max + d];
    }
    var pad = (max - min) * 0.05;
    return [min - pad, max + pad];
  }

  function axis(label, log, side, scale) {
    var a = {
      label: label,
      stroke: '#333',
      grid: {stroke: '#eee', width: 1},
      ticks: {stroke: '#bbb', width: 1},
      size: 62,
      labelSize: 18,
      values: function (u, splits) {
        return formatTicks(splits);
      }
    };
    if (log) {
      a.splits = logSplits;
      // uPlot hides log-axis labels whose mantissa is not 1, 2, 5…; these splits are already sparse enough.
      a.filter = function (u, splits) {
        return splits;
      };
    }
    if (side != null) {
      a.side = side;
      a.grid = {show: false};
    }
    if (scale) {
      a.scale = scale;
    }
    return a;
  }

  // ---------- data helpers ----------

  function num(v) {
    return typeof v === 'number' && isFinite(v) ? v : null;
  }

  function workersOf(rows) {
    var seen = {};
    rows.forEach(function (r) {
      seen[r.worker == null ? 0 : r.worker] = true;
    });
    return Object.keys(seen).map(Number).sort(function (a, b) {
      return a - b;
    });
  }

  /**
   * Aligns series that each have their own x values onto one sorted x array (uPlot's data layout); a series has
   * null where it has no point.
   */
  function align(series) {
    var xs = {};
    series.forEach(function (s) {
      s.xs.forEach(function (x) {
        xs[x] = true;
      });
    });
    var x = Object.keys(xs).map(Number).sort(function (a, b) {
      return a - b;
    });
    var index = {};
    x.forEach(function (v, i) {
      index[v] = i;
    });
    var data = [x];
    series.forEach(function (s) {
      var ys = new Array(x.length).fill(null);
      for (var i = 0; i < s.xs.length; i++) {
        ys[index[s.xs[i]]] = s.ys[i];
      }
      data.push(ys);
    });
    return data;
  }

  /** One series per worker of a probe-record field; values through f (default: the field itself). */
  function perWorker(rows, label, colour, get, opts) {
    var ws = workersOf(rows);
    var out = [];
    ws.forEach(function (w, wi) {
      var mine = rows.filter(function (r) {
        return (r.worker == null ? 0 : r.worker) === w;
      });
      var s = {
        label: ws.length > 1 ? label + ' · worker ' + w : label,
        colour: colour,
        dash: WORKER_DASH[wi % WORKER_DASH.length],
        xs: [],
        ys: []
      };
      Object.keys(opts || {}).forEach(function (k) {
        s[k] = opts[k];
      });
      mine.forEach(function (r) {
        s.xs.push(r.iteration);
        s.ys.push(num(get(r)));
      });
      out.push(s);
    });
    return out;
  }

  function field(name) {
    return function (r) {
      return r[name];
    };
  }

  function first(name) {
    return function (r) {
      var a = r[name];
      return Array.isArray(a) && a.length > 0 ? a[0] : null;
    };
  }

  // ---------- chart definitions ----------

  var NO_PROBE = 'no probe yet: the DiffusionListener probes every probeEvery iterations (default 100, the first '
      + 'at iteration 0); add it with .sink(dashboard)';

  function probeChart(def) {
    def.empty = def.empty || function (n) {
      return probes.length === 0 ? NO_PROBE : n;
    };
    return def;
  }

  var CHARTS = [
    {
      id: 'loss',
      title: 'Loss',
      caption: 'the minibatch loss at every iteration (line; thinned evenly past 4096 points per worker) and at '
          + 'each probe (dots)',
      x: 'iteration',
      y: [{label: 'loss', log: false}],
      build: function () {
        var s = [];
        if (scalars && scalars.iteration.length > 0) {
          var rows = scalars.iteration.map(function (it, i) {
            return {iteration: it, worker: scalars.worker[i], loss: scalars.loss[i]};
          });
          s = s.concat(perWorker(rows, 'loss', PALETTE[0], field('loss')));
        }
        var hasLine = s.length > 0;
        s = s.concat(perWorker(probes, 'loss at probes', PALETTE[1], field('loss'), {dots: hasLine}));
        return s;
      },
      empty: function () {
        return 'no iteration yet: the DiffusionListener sends the loss at every iteration; add it with '
            + '.sink(dashboard)';
      }
    },
    {
      id: 'update',
      title: 'Update norm and learning rate',
      caption: '‖θ_{t+1} − θ_t‖₂ of every update (left axis) and the updater\'s learning rate (right axis)',
      x: 'iteration',
      y: [{label: 'update norm', log: true}, {label: 'learning rate', log: true, scale: 'lr'}],
      build: function () {
        if (!scalars || scalars.iteration.length === 0) {
          return [];
        }
        var rows = scalars.iteration.map(function (it, i) {
          return {
            iteration: it, worker: scalars.worker[i], u: scalars.update_norm[i], lr: scalars.learning_rate[i]
          };
        });
        return perWorker(rows, 'update norm', PALETTE[0], field('u'))
            .concat(perWorker(rows, 'learning rate', PALETTE[3], field('lr'), {scale: 'lr'}));
      },
      empty: function (n) {
        return scalars && scalars.iteration.length > 0 ? 'no finite update norm or learning rate yet'
            : 'no iteration yet: the DiffusionListener sends the scalars at every iteration (not in a report '
            + 'without scalars.jsonl)';
      }
    },
    probeChart({
      id: 'noise',
      title: 'Noise covariance D: trace and top eigenvalue',
      caption: 'tr(D) and λ_max of the k-sample estimate at each probe; the sketch\'s λ₁ is D averaged over the '
          + 'recent probes (see its half-life), drawn with its sketch bound, a bound on the sketch\'s own error and '
          + 'not a confidence interval (only with .sketchSize(ℓ))',
      x: 'iteration',
      y: [{label: 'eigenvalue / trace', log: true}],
      build: function () {
        return perWorker(probes, 'tr(D)', PALETTE[0], field('trace'))
            .concat(perWorker(probes, 'λ_max', PALETTE[1], field('lambda_max')))
            .concat(perWorker(probes, 'sketch λ₁', PALETTE[2], first('sketch_eigenvalues')))
            .concat(perWorker(probes, 'sketch λ₁ upper bound', PALETTE[2], first('sketch_eigenvalues_upper'),
                {bound: true}));
      }
    }),
    probeChart({
      id: 'rank',
      title: 'Rank and effective ranks',
      caption: 'rank of D by the paper\'s rule λ > λ_max·d·ε₃₂ (its threshold grows with d; a lower bound when it '
          + 'reaches the cap k − 1, k = gradients per probe), and the scale-free measures: participation ratio '
          + '(tr D)²/tr(D²) (unbiased pair estimator: not capped by k), entropy effective rank',
      x: 'iteration',
      y: [{label: 'dimensions', log: true}],
      build: function () {
        return perWorker(probes, 'rank', PALETTE[0], field('rank'))
            .concat(perWorker(probes, 'participation ratio', PALETTE[1], field('participation_ratio')))
            .concat(perWorker(probes, 'effective rank', PALETTE[2], field('effective_rank')))
            .concat(perWorker(probes, 'cap k − 1', '#555', function (r) {
              return r.num_samples == null ? null : r.num_samples - 1;
            }, {bound: true, stepped: true}));
      }
    }),
    probeChart({
      id: 'anisotropy',
      title: 'Anisotropy and noise scale',
      caption: 'isotropy ratio d·λ_max/tr(D) (1 for isotropic noise; left axis) and the gradient noise scale '
          + 'B = tr(D)/|∇f|² in examples, unbiased (right axis; the plug-in saturates near k and is not drawn)',
      x: 'iteration',
      y: [{label: 'isotropy ratio', log: true}, {label: 'noise scale (examples)', log: true, scale: 'ns'}],
      build: function () {
        return perWorker(probes, 'isotropy ratio', PALETTE[4], field('isotropy_ratio'))
            .concat(perWorker(probes, 'noise scale B (unbiased)', PALETTE[5], field('noise_scale_unbiased'),
                {scale: 'ns'}));
      }
    }),
    probeChart({
      id: 'temperature',
      title: 'Temperature',
      caption: 'β⁻¹ = η/(2b), times (1 − b/N) without replacement, and with momentum η/(2b(1−μ)); missing when '
          + 'the sampling scheme is unknown',
      x: 'iteration',
      y: [{label: 'temperature', log: true}],
      build: function () {
        return perWorker(probes, 'η/2b', PALETTE[6], field('temperature'))
            .concat(perWorker(probes, 'with momentum', PALETTE[7], field('temperature_momentum')));
      },
      empty: function (n) {
        return probes.length === 0 ? NO_PROBE
            : 'no temperature in the records: set the sampling scheme with .sampling(scheme, datasetSize)';
      }
    }),
    probeChart({
      id: 'spectrum',
      title: 'Eigenvalue histogram of D (last probe)',
      caption: 'counts of the last probe\'s top eigenvalues (topR of them, default 10) in log-spaced bins, one '
          + 'series per worker; the dashed line is the rank threshold',
      x: 'eigenvalue',
      xLog: true,
      y: [{label: 'count', log: true}],
      bars: true,
      build: histogram,
      empty: function (n) {
        return probes.length === 0 ? NO_PROBE : 'the last probe has fewer than two positive eigenvalues';
      }
    }),
    probeChart({
      id: 'layers',
      title: 'Layers\' shares of tr(D)',
      caption: 'each layer\'s part of the trace of the noise covariance at each probe (they sum to 1)',
      x: 'iteration',
      y: [{label: 'share of tr(D)', log: false, min: 0}],
      build: function () {
        var last = probes.length ? probes[probes.length - 1] : null;
        var names = last && Array.isArray(last.layer_names) ? last.layer_names : [];
        var out = [];
        names.forEach(function (name, li) {
          out = out.concat(perWorker(probes, 'layer ' + name, PALETTE[li % PALETTE.length], function (r) {
            return Array.isArray(r.layer_trace_share) && Array.isArray(r.layer_names)
                && r.layer_names[li] === name ? r.layer_trace_share[li] : null;
          }));
        });
        return out;
      },
      empty: function (n) {
        return probes.length === 0 ? NO_PROBE : 'the records have no per-layer traces';
      }
    }),
    {
      id: 'verdicts',
      title: 'Loop test p-values',
      caption: 'the TrajectoryListener\'s p-value at each analysis (LOOP below the dashed significance level) and '
          + 'the largest circulation rate per step (right axis)',
      x: 'iteration',
      y: [{label: 'p-value', log: true}, {label: 'circulation rate per step', log: true, scale: 'rate'}],
      build: function () {
        return perWorker(loops, 'p-value', PALETTE[1], field('p_value'), {dots: true, joined: true})
            .concat(perWorker(loops, 'significance', '#555', field('significance'), {bound: true, stepped: true}))
            .concat(perWorker(loops, 'max rate', PALETTE[0], field('max_rate'), {scale: 'rate', dots: true,
              joined: true}));
      },
      empty: function () {
        return loops.length === 0 ? 'no loop verdict yet: add a TrajectoryListener with .sink(dashboard); it '
            + 'analyses after 100, 200, 400, … iterations, then every analyzeEvery (default 2000)'
            : 'no finite p-value yet (INSUFFICIENT_DATA)';
      }
    }
  ];

  var SPECTRA_CHART = {
    id: 'spectra',
    title: 'Spectra of D during training',
    caption: 'D\'s eigenvalues in decreasing order at each snapshot, overlaid',
    x: 'eigenvalue index',
    xLog: true,
    y: [{label: 'eigenvalue', log: true}],
    build: function () {
      return embedded.spectra.map(function (sp, i) {
        var ev = sp.eigenvalues.slice().sort(function (a, b) {
          return b - a;
        });
        return {
          label: sp.label,
          colour: PALETTE[i % PALETTE.length],
          dash: [],
          xs: ev.map(function (v, j) {
            return j + 1;
          }),
          ys: ev.map(num)
        };
      });
    },
    empty: function () {
      return 'the spectra hold no positive eigenvalues';
    }
  };

  var PORTRAIT_CHART = {
    id: 'phase_portrait',
    title: 'Phase portrait of the most circulating plane',
    caption: '',
    x: 'u',
    y: [{label: 'v', log: false}],
    scatter: true,
    build: function () {
      var p = embedded.portrait;
      return [{label: 'trajectory', colour: PALETTE[0], xs: p.u, ys: p.v}];
    },
    empty: function () {
      return 'the portrait holds no finite point';
    }
  };

  /** The last embedded spectrum (a report's spectrum file), or null. */
  function lastSpectrum() {
    var sp = embedded && embedded.spectra ? embedded.spectra : [];
    return sp.length ? sp[sp.length - 1] : null;
  }

  function histogram() {
    var spectrum = lastSpectrum();
    if (spectrum) {
      return histogramOf([{label: spectrum.label, eigenvalues: spectrum.eigenvalues}],
          spectrum.rank_threshold > 0 ? [spectrum.rank_threshold] : []);
    }
    var ws = workersOf(probes);
    var lastOf = {};
    probes.forEach(function (r) {
      lastOf[r.worker == null ? 0 : r.worker] = r;
    });
    var thresholds = [];
    var sets = ws.map(function (w) {
      var r = lastOf[w];
      if (r.rank_threshold > 0) {
        thresholds.push(r.rank_threshold);
      }
      return {
        label: (ws.length > 1 ? 'worker ' + w + ', ' : '') + 'iteration ' + r.iteration,
        eigenvalues: r.eigenvalues || []
      };
    });
    return histogramOf(sets, thresholds);
  }

  /** Counts of each set's positive eigenvalues in common log-spaced bins; a marker at the last threshold. */
  function histogramOf(sets, thresholds) {
    var all = [];
    sets.forEach(function (set) {
      set.eigenvalues.forEach(function (v) {
        if (v > 0 && isFinite(v)) {
          all.push(v);
        }
      });
    });
    if (all.length < 2) {
      return [];
    }
    var lo = Math.log10(all.concat(thresholds).reduce(function (a, b) {
      return Math.min(a, b);
    }));
    var hi = Math.log10(all.concat(thresholds).reduce(function (a, b) {
      return Math.max(a, b);
    }));
    var bins = Math.max(5, Math.min(40, Math.ceil(2 * Math.sqrt(all.length))));
    var width = Math.max(hi - lo, 1e-9) / bins;
    var centres = [];
    for (var i = 0; i < bins; i++) {
      centres.push(Math.pow(10, lo + (i + 0.5) * width));
    }
    var out = sets.map(function (set, wi) {
      var counts = new Array(bins).fill(0);
      set.eigenvalues.forEach(function (v) {
        if (v > 0 && isFinite(v)) {
          counts[Math.min(bins - 1, Math.floor((Math.log10(v) - lo) / width))]++;
        }
      });
      return {
        label: set.label,
        colour: PALETTE[wi % PALETTE.length],
        dash: [],
        xs: centres,
        ys: counts.map(function (c) {
          return c > 0 ? c : null;
        }),
        bar: true
      };
    });
    if (thresholds.length) {
      out.push({
        label: 'rank threshold ' + fmt(thresholds[thresholds.length - 1]),
        colour: '#555',
        dash: [5, 4],
        xs: [],
        ys: [],
        marker: thresholds[thresholds.length - 1]
      });
    }
    return out;
  }

  // ---------- drawing ----------

  var charts = {}; // id -> {def, el, plotEl, emptyEl, u, signature}

  function makeChartElement(def) {
    var el = document.createElement('section');
    el.className = 'chart';
    el.id = 'chart-' + def.id;
    el.setAttribute('data-chart', def.id);
    var h = document.createElement('h2');
    h.textContent = def.title;
    var cap = document.createElement('p');
    cap.className = 'caption';
    cap.textContent = def.caption;
    var plot = document.createElement('div');
    plot.className = 'plot';
    var empty = document.createElement('p');
    empty.className = 'empty';
    el.appendChild(h);
    el.appendChild(cap);
    el.appendChild(plot);
    el.appendChild(empty);
    document.getElementById('charts').appendChild(el);
    charts[def.id] = {def: def, el: el, plotEl: plot, emptyEl: empty, u: null, signature: ''};
    state.charts[def.id] = {points: 0, series: 0, drawn: false, empty: true};
  }

  function markerPlugin(value, colour) {
    return {
      hooks: {
        draw: function (u) {
          var x = u.valToPos(value, 'x', true);
          if (!isFinite(x)) {
            return;
          }
          var ctx = u.ctx;
          ctx.save();
          ctx.strokeStyle = colour;
          ctx.setLineDash([5, 4]);
          ctx.lineWidth = 1.5 * devicePixelRatio;
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
          ctx.restore();
        }
      }
    };
  }

  function uplotSeries(def, s) {
    var o = {
      label: s.label,
      stroke: s.colour,
      width: s.bound ? 1.2 : 1.6,
      dash: s.bound ? [6, 4] : s.dash,
      scale: s.scale || 'y',
      spanGaps: true,
      value: function (u, v) {
        return fmt(v);
      },
      points: {show: false}
    };
    if (s.dots) {
      o.points = {show: true, size: 6, fill: s.colour, stroke: s.colour};
      if (!s.joined) {
        o.paths = function () {
          return null;
        };
      }
    }
    if (s.stepped) {
      o.paths = uPlot.paths.stepped({align: 1});
    }
    if (s.bar) {
      o.paths = uPlot.paths.bars({size: [0.8, Infinity], align: 0});
      o.fill = s.colour + '99';
      o.spanGaps = false;
    }
    if (s.marker != null) {
      o.paths = function () {
        return null;
      };
    }
    return o;
  }

  function scaleIsLog(def, scale) {
    var ax = def.y.filter(function (a) {
      return (a.scale || 'y') === scale;
    })[0];
    return !!(ax && ax.log);
  }

  function buildOptions(def, series, width) {
    var scales = {x: {time: false}};
    if (def.xLog) {
      scales.x = {time: false, distr: 3, log: 10, range: logRange};
    }
    def.y.forEach(function (a) {
      var sc = a.log ? {distr: 3, log: 10, range: logRange} : {range: linRange};
      if (a.min != null) {
        sc.range = function (u, min, max) {
          var r = linRange(u, Math.min(a.min, min == null ? a.min : min), max == null ? 1 : max);
          return [a.min, r[1]];
        };
      }
      scales[a.scale || 'y'] = sc;
    });
    var axes = [axis(def.x, !!def.xLog)];
    def.y.forEach(function (a, i) {
      axes.push(axis(a.label, a.log, i === 0 ? null : 1, a.scale || 'y'));
    });
    var plugins = series.filter(function (s) {
      return s.marker != null;
    }).map(function (s) {
      return markerPlugin(s.marker, s.colour);
    });
    return {
      width: width,
      height: HEIGHT,
      scales: scales,
      axes: axes,
      series: [{label: def.x, value: function (u, v) {
        return fmt(v);
      }}].concat(series.map(function (s) {
        return uplotSeries(def, s);
      })),
      legend: {show: true, live: true},
      cursor: {drag: {x: true, y: false}},
      plugins: plugins
    };
  }

  function chartWidth(c) {
    return Math.max(300, Math.floor(c.el.clientWidth - 20));
  }

  function update(id) {
    var c = charts[id];
    var def = c.def;
    var series = def.build();
    // A log scale cannot show zero or negative values: those points are left out.
    series.forEach(function (s) {
      if (scaleIsLog(def, s.scale || 'y')) {
        s.ys = s.ys.map(function (v) {
          return v != null && v > 0 ? v : null;
        });
      }
    });
    var points = 0;
    series.forEach(function (s) {
      s.ys.forEach(function (v) {
        if (v != null) {
          points++;
        }
      });
    });
    var st = state.charts[id];
    st.points = points;
    st.series = series.length;
    if (points === 0) {
      if (c.u) {
        c.u.destroy();
        c.u = null;
        c.signature = '';
      }
      c.emptyEl.textContent = def.empty('no values to draw yet');
      c.emptyEl.hidden = false;
      st.empty = true;
      st.drawn = false;
      return;
    }
    c.emptyEl.hidden = true;
    st.empty = false;
    if (def.scatter) {
      drawScatter(c, series[0]);
      st.drawn = true;
      return;
    }
    var data = align(series);
    var signature = series.map(function (s) {
      return s.label + '|' + (s.marker == null ? '' : s.marker);
    }).join(';');
    if (c.u && c.signature === signature) {
      c.u.setData(data);
    } else {
      if (c.u) {
        c.u.destroy();
      }
      c.u = new uPlot(buildOptions(def, series, chartWidth(c)), data, c.plotEl);
      c.signature = signature;
    }
    st.drawn = true;
  }

  /** A path through the points in their order (uPlot's mode 2: x need not increase). */
  function polyline(u, si) {
    var d = u.data[si];
    var p = new Path2D();
    for (var i = 0; i < d[0].length; i++) {
      if (d[0][i] == null || d[1][i] == null) {
        continue;
      }
      var x = u.valToPos(d[0][i], 'x', true);
      var y = u.valToPos(d[1][i], 'y', true);
      if (i === 0) {
        p.moveTo(x, y);
      } else {
        p.lineTo(x, y);
      }
    }
    return {stroke: p};
  }

  function drawScatter(c, s) {
    if (c.u) {
      c.u.destroy();
    }
    var def = c.def;
    var opts = {
      mode: 2,
      width: chartWidth(c),
      height: Math.max(HEIGHT, 360),
      scales: {x: {time: false, auto: true, range: linRange}, y: {auto: true, range: linRange}},
      axes: [axis(def.x, false), axis(def.y[0].label, false)],
      series: [{}, {
        label: s.label,
        stroke: s.colour,
        width: 1,
        facets: [{scale: 'x', auto: true}, {scale: 'y', auto: true}],
        paths: polyline,
        points: {show: false}
      }],
      legend: {show: true, live: false},
      cursor: {show: false}
    };
    c.u = new uPlot(opts, [null, [s.xs.map(num), s.ys.map(num)]], c.plotEl);
    c.signature = 'scatter';
  }

  function updateAll() {
    Object.keys(charts).forEach(update);
    updateLoopTable();
    state.updates++;
    var ids = Object.keys(state.charts);
    document.body.setAttribute('data-charts', String(ids.length));
    document.body.setAttribute('data-charts-drawn', String(ids.filter(function (id) {
      return state.charts[id].drawn && state.charts[id].points > 0;
    }).length));
  }

  function updateLoopTable() {
    var table = document.getElementById('loop-table');
    var empty = document.getElementById('loops-empty');
    if (loops.length === 0) {
      table.hidden = true;
      empty.hidden = false;
      return;
    }
    empty.hidden = true;
    table.hidden = false;
    var body = table.tBodies[0];
    while (body.rows.length < loops.length) {
      var r = loops[body.rows.length];
      var tr = body.insertRow();
      [r.iteration, r.worker, r.verdict, fmt(r.p_value), fmt(r.max_rate), fmt(r.period), r.window_steps]
          .forEach(function (v, i) {
            var td = tr.insertCell();
            td.textContent = v == null ? '–' : String(v);
            if (i === 2) {
              td.className = 'verdict-' + String(v);
            } else {
              td.className = 'num';
            }
          });
    }
  }

  function renderTables(tables) {
    var host = document.getElementById('tables');
    (tables || []).forEach(function (t) {
      var h = document.createElement('h2');
      h.textContent = t.title;
      var table = document.createElement('table');
      table.setAttribute('data-table', t.title);
      t.rows.forEach(function (row) {
        var tr = table.insertRow();
        var th = document.createElement('th');
        th.textContent = row[0];
        tr.appendChild(th);
        var td = tr.insertCell();
        td.textContent = row[1];
      });
      host.appendChild(h);
      host.appendChild(table);
    });
  }

  function renderImages(images) {
    if (!images || images.length === 0) {
      return;
    }
    var host = document.getElementById('images');
    host.hidden = false;
    var loaded = 0;
    document.body.setAttribute('data-images', String(images.length));
    document.body.setAttribute('data-images-rendered', '0');
    images.forEach(function (im) {
      var fig = document.createElement('figure');
      fig.setAttribute('data-image', im.id);
      var h = document.createElement('h2');
      h.textContent = im.title;
      var img = document.createElement('img');
      img.alt = im.title;
      img.addEventListener('load', function () {
        if (img.naturalWidth > 0) {
          loaded++;
          document.body.setAttribute('data-images-rendered', String(loaded));
        }
      });
      img.src = im.src;
      var cap = document.createElement('figcaption');
      cap.textContent = im.caption;
      fig.appendChild(h);
      fig.appendChild(img);
      fig.appendChild(cap);
      host.appendChild(fig);
    });
  }

  // ---------- data in ----------

  function addRecords(list) {
    list.forEach(function (e) {
      state.lastSeq = Math.max(state.lastSeq, e.seq);
      state.records++;
      if (e.kind === 'probe') {
        probes.push(e.record);
      } else if (e.kind === 'loop') {
        loops.push(e.record);
      }
    });
    state.probes = probes.length;
    state.loops = loops.length;
  }

  function setScalars(s) {
    scalars = s;
    state.scalarPoints = s && s.iteration ? s.iteration.length : 0;
  }

  function setStatus(text, error) {
    var el = document.getElementById('status');
    el.textContent = text;
    el.className = error ? 'status error' : 'status';
  }

  function describe() {
    var last = probes.length ? probes[probes.length - 1] : null;
    var parts = [probes.length + ' probes', loops.length + ' loop verdicts',
      (scalars ? scalars.iteration.length : 0) + ' iteration points'];
    if (last) {
      parts.push('last probe at iteration ' + last.iteration + ' (every ' + last.probe_every_in_force
          + ', k = ' + last.num_samples + ', d = ' + last.num_params + ')');
    }
    return parts.join(' · ');
  }

  function getJson(url) {
    return fetch(url, {cache: 'no-store'}).then(function (r) {
      if (!r.ok) {
        throw new Error(url + ': HTTP ' + r.status);
      }
      return r.json();
    });
  }

  function poll() {
    Promise.all([getJson('api/records?since=' + state.lastSeq), getJson('api/scalars')]).then(function (res) {
      state.polls++;
      var changed = res[0].length > 0 || res[1].offered !== scalarsOffered;
      addRecords(res[0]);
      scalarsOffered = res[1].offered;
      setScalars(res[1]);
      if (changed || state.updates === 0) {
        updateAll();
      }
      setStatus('live · ' + describe() + ' · updated ' + new Date().toLocaleTimeString(), false);
    }).catch(function (e) {
      setStatus('cannot reach the dashboard server (' + e.message + '); retrying every second. Training '
          + 'goes on regardless.', true);
    }).then(function () {
      setTimeout(poll, POLL_MS);
    });
  }

  function init() {
    var defs = CHARTS.slice();
    if (embedded && embedded.spectra && embedded.spectra.length >= 2) {
      defs.splice(defs.indexOf(defs.filter(function (d) {
        return d.id === 'spectrum';
      })[0]) + 1, 0, SPECTRA_CHART);
    }
    if (embedded && embedded.portrait) {
      PORTRAIT_CHART.caption = embedded.portrait.caption;
      defs.push(PORTRAIT_CHART);
    }
    var spectrum = lastSpectrum();
    if (spectrum) {
      defs.forEach(function (d) {
        if (d.id === 'spectrum') {
          d.title = 'Eigenvalue histogram of D';
          d.caption = 'as the paper\'s Figure 1: counts of D\'s eigenvalues in log-spaced bins (' + spectrum.label
              + '); the dashed line is the rank threshold';
        }
      });
    }
    defs.forEach(makeChartElement);
    var resizeTimer = null;
    window.addEventListener('resize', function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(function () {
        Object.keys(charts).forEach(function (id) {
          var c = charts[id];
          if (c.u) {
            c.u.setSize({width: chartWidth(c), height: HEIGHT});
          }
        });
      }, 150);
    });
    if (embedded) {
      document.getElementById('title').textContent = embedded.title || 'sgdnoise report';
      document.getElementById('mode').textContent = 'static report: data embedded in this file';
      renderTables(embedded.tables);
      renderImages(embedded.images);
      addRecords(embedded.records || []);
      setScalars(embedded.scalars || null);
      updateAll();
      setStatus(describe(), false);
    } else {
      document.getElementById('mode').textContent = 'live: polling every ' + POLL_MS / 1000 + ' s';
      updateAll();
      poll();
    }
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
