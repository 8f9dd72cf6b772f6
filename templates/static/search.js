// The search page: Pagefind's index, queried in the browser, with a topic filter.
// Results are built as DOM nodes (never innerHTML), so indexed feed text stays text.
(function () {
  "use strict";
  var form = document.getElementById("search-form");
  if (!form) return;
  var input = form.elements.q;
  var select = form.elements.topic;
  var status = document.getElementById("search-status");
  var list = document.getElementById("search-results");
  var bundle = form.getAttribute("data-pagefind");
  var base = bundle.replace(/pagefind\/$/, "");
  var SHOWN = 20;
  var pagefind = null;
  var latest = 0;
  var timer = null;

  // The index is in shards (see ingest/sitegen/search.py): the first is loaded, the others
  // merged into it, and Pagefind then searches them as one (results sorted by score).
  function load() {
    if (!pagefind) {
      pagefind = fetch(bundle + "shards.json")
        .then(function (response) {
          if (!response.ok) throw new Error("no search index (" + response.status + ")");
          return response.json();
        })
        .then(function (manifest) {
          var shards = manifest.shards || [];
          if (!shards.length) throw new Error("the search index is empty");
          return import(bundle + shards[0] + "/pagefind.js").then(function (module) {
            return module.options({ baseUrl: base })
              .then(function () {
                return Promise.all(shards.slice(1).map(function (name) {
                  return module.mergeIndex(bundle + name + "/", { baseUrl: base });
                }));
              })
              .then(function () { return module; });
          });
        });
      pagefind.catch(function () { pagefind = null; });  // a later search tries again
    }
    return pagefind;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function stamp(seconds) {
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = Math.floor(seconds % 60);
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  }

  // Pagefind escapes < and > in excerpts and wraps matches in <mark>: rebuild that as nodes.
  function excerpt(text) {
    var p = el("p", "excerpt");
    var marked = false;
    String(text || "").split(/(<mark>|<\/mark>)/).forEach(function (part) {
      if (part === "<mark>") { marked = true; return; }
      if (part === "</mark>") { marked = false; return; }
      var plain = part.replace(/&lt;/g, "<").replace(/&gt;/g, ">");
      p.appendChild(marked ? el("mark", "", plain) : document.createTextNode(plain));
    });
    return p;
  }

  // The transcript passage (id "t=SECONDS") where the query matches best: a deep link.
  // Each matched word counts once, and words matched side by side (the phrase) count double.
  function matchTime(data) {
    var passages = (data.anchors || []).filter(function (a) { return /^t=\d+$/.test(a.id || ""); });
    if (!passages.length) return null;
    var locations = (data.locations || []).slice().sort(function (a, b) { return a - b; });
    var scores = {};
    var best = null;
    locations.forEach(function (location, i) {
      var passage = null;
      passages.forEach(function (a) { if (a.location <= location) passage = a; });
      if (!passage) return;
      var score = 1 + (locations[i + 1] === location + 1 ? 2 : 0);
      scores[passage.id] = (scores[passage.id] || 0) + score;
      if (best === null || scores[passage.id] > scores[best.id]) best = passage;
    });
    return best ? parseInt(best.id.slice(2), 10) : null;
  }

  function card(data) {
    var li = el("li", "card");
    var h = el("h3");
    var a = el("a", "", (data.meta && data.meta.title) || data.url);
    a.href = data.url;
    h.appendChild(a);
    li.appendChild(h);
    var meta = [data.meta && data.meta.show, data.meta && data.meta.date].filter(Boolean).join(" · ");
    if (meta) li.appendChild(el("p", "meta", meta));
    li.appendChild(excerpt(data.excerpt));
    var t = matchTime(data);
    if (t !== null) {
      var jump = el("a", "jump", "▶ Play from " + stamp(t));
      jump.href = data.url + "#t=" + t;
      var p = el("p");
      p.appendChild(jump);
      li.appendChild(p);
    }
    return li;
  }

  function setUrl(q, topic) {
    var params = new URLSearchParams();
    if (q) params.set("q", q);
    if (topic) params.set("topic", topic);
    var query = params.toString();
    history.replaceState(null, "", window.location.pathname + (query ? "?" + query : ""));
  }

  function run() {
    var q = input.value.trim();
    var topic = select.value;
    setUrl(q, topic);
    var mine = ++latest;
    if (!q && !topic) { list.replaceChildren(); status.textContent = ""; return Promise.resolve(); }
    status.textContent = "Searching…";
    return load()
      .then(function (pf) { return pf.search(q || null, topic ? { filters: { topic: [topic] } } : {}); })
      .then(function (search) {
        if (mine !== latest || !search) return null;
        return Promise.all(search.results.slice(0, SHOWN).map(function (r) { return r.data(); }))
          .then(function (items) {
            if (mine !== latest) return;
            list.replaceChildren.apply(list, items.map(card));
            var total = search.results.length;
            status.textContent = total === 0 ? "No episodes match."
              : total + " episode" + (total === 1 ? "" : "s") + (total > SHOWN ? ", showing the best " + SHOWN : "");
            form.setAttribute("data-state", "done");
          });
      })
      .catch(function (error) {
        status.textContent = "Search is unavailable: " + error.message;
      });
  }

  form.addEventListener("submit", function (event) { event.preventDefault(); clearTimeout(timer); run(); });
  input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(run, 250); });
  select.addEventListener("change", function () { clearTimeout(timer); run(); });

  var params = new URLSearchParams(window.location.search);
  input.value = params.get("q") || "";
  var topic = params.get("topic") || "";
  if (topic && Array.prototype.some.call(select.options, function (o) { return o.value === topic; })) select.value = topic;
  if (input.value || select.value) run();
})();
