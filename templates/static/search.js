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

  // A link starts this long before the first matched word (ingest/wordtimes.py LEAD_SECONDS),
  // floored to the second, as Datasette and the command line link.
  var LEAD_SECONDS = 0.5;
  var SUB_RESULTS = 3;  // matching paragraphs shown per episode
  var BEFORE = 8, AFTER = 22;  // words of context in a paragraph's snippet

  // The page's `times` meta (ingest/sitegen/search.py): per paragraph, the first word's time
  // and each word's offset from it, in tenths of a second, base 36.
  function wordTimes(meta) {
    return String(meta || "").split("|").map(function (paragraph) {
      var parts = paragraph ? paragraph.split(" ") : [];
      var first = parts.length ? parseInt(parts[0], 36) / 10 : 0;
      return parts.slice(1).map(function (offset) { return first + parseInt(offset, 36) / 10; });
    });
  }

  // Pagefind's sub-results, per transcript paragraph: each paragraph's text is an anchor
  // (id "pN") at its first word, and `locations` are word positions in the page's content.
  // Each matched word counts once, words matched side by side (the phrase) count double; a
  // paragraph's time is its first matched word of the first side-by-side run, else its first.
  function paragraphHits(data) {
    var anchors = (data.anchors || []).filter(function (a) { return /^p\d+$/.test(a.id || ""); })
      .sort(function (a, b) { return a.location - b.location; });
    if (!anchors.length) return [];
    var times = wordTimes(data.meta && data.meta.times);
    var words = String(data.content || "").trim().split(/\s+/);
    var matched = {};
    (data.locations || []).forEach(function (location) { matched[location] = true; });
    var hits = {};
    Object.keys(matched).map(Number).sort(function (a, b) { return a - b; }).forEach(function (location) {
      var anchor = null;
      anchors.forEach(function (a) { if (a.location <= location) anchor = a; });
      if (!anchor) return;  // the title or the show notes
      var index = parseInt(anchor.id.slice(1), 10);
      var own = times[index] || [];
      var word = location - anchor.location;
      if (word >= own.length) return;  // the next paragraph's speaker label
      var hit = hits[index] || (hits[index] = { index: index, anchor: anchor, score: 0, first: null, run: null, own: own });
      var side = matched[location + 1] && word + 1 < own.length;
      hit.score += 1 + (side ? 2 : 0);
      if (hit.first === null) hit.first = word;
      if (side && hit.run === null) hit.run = word;
    });
    return Object.keys(hits).map(function (k) {
      var hit = hits[k];
      var word = hit.run !== null ? hit.run : hit.first;
      var from = Math.max(0, word - BEFORE), to = Math.min(hit.own.length, word + AFTER);
      var snippet = [];
      for (var i = from; i < to; i++) {
        snippet.push({ text: words[hit.anchor.location + i] || "", mark: Boolean(matched[hit.anchor.location + i]) });
      }
      return {
        score: hit.score,
        seconds: Math.max(0, Math.floor(hit.own[word] - LEAD_SECONDS)),
        snippet: snippet,
        cutBefore: from > 0,
        cutAfter: to < hit.own.length,
      };
    }).sort(function (a, b) { return b.score - a.score || a.seconds - b.seconds; });
  }

  // A paragraph's words as nodes, the matched ones in <mark>.
  function snippet(hit) {
    var p = el("p", "excerpt");
    if (hit.cutBefore) p.appendChild(document.createTextNode("… "));
    hit.snippet.forEach(function (word, i) {
      if (i) p.appendChild(document.createTextNode(" "));
      p.appendChild(word.mark ? el("mark", "", word.text) : document.createTextNode(word.text));
    });
    if (hit.cutAfter) p.appendChild(document.createTextNode(" …"));
    return p;
  }

  function card(data, q) {
    var li = el("li", "card");
    var h = el("h3");
    var a = el("a", "", (data.meta && data.meta.title) || data.url);
    a.href = data.url;
    h.appendChild(a);
    li.appendChild(h);
    var meta = [data.meta && data.meta.show, data.meta && data.meta.date].filter(Boolean).join(" · ");
    if (meta) li.appendChild(el("p", "meta", meta));
    var hits = paragraphHits(data).slice(0, SUB_RESULTS);
    if (!hits.length) {  // the words are in the title or show notes only
      li.appendChild(excerpt(data.excerpt));
      return li;
    }
    var subs = el("div", "sub-results");
    hits.forEach(function (hit) {
      var sub = el("div", "sub-result");
      sub.appendChild(snippet(hit));
      var jump = el("a", "jump", "▶ Play from " + stamp(hit.seconds));
      // The page highlights the words (q) and starts playing (play) at the second (#t=).
      var params = new URLSearchParams();
      if (q) params.set("q", q);
      params.set("play", "1");
      jump.href = data.url + "?" + params.toString() + "#t=" + hit.seconds;
      var p = el("p");
      p.appendChild(jump);
      sub.appendChild(p);
      subs.appendChild(sub);
    });
    li.appendChild(subs);
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
        // Every result's data is asked for at once; cards appear in rank order as it arrives,
        // the first without waiting for the other nineteen.
        var pending = search.results.slice(0, SHOWN).map(function (r) { return r.data(); });
        list.replaceChildren();
        return pending
          .reduce(function (shown, data) {
            return shown.then(function () { return data; }).then(function (item) {
              if (mine === latest) list.appendChild(card(item, q));
            });
          }, Promise.resolve())
          .then(function () {
            if (mine !== latest) return;
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
