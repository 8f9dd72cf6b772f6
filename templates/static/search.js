// The search page: Pagefind's index (the words) and the static model's passage vectors (the
// meaning, semantic.js), queried in the browser, fused by reciprocal rank, with a topic filter.
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
  // Episodes taken by meaning into the fusion: each shown costs its sentences' file (about
  // 80 KB for an 80-minute episode), so ten, not twenty, keep the first query under 10 MB.
  var MEANING_SHOWN = 10;
  var pagefind = null;
  var semanticRoot = form.getAttribute("data-semantic");
  var semantic = null;
  var latest = 0;
  var timer = null;

  // The index is in shards (see ingest/sitegen/search.py): the first is loaded, the others
  // merged into it, and Pagefind then searches them as one (results sorted by score).
  // The last shards listed, about FIRST_PASS_PAGES episodes, are also loaded on their own (a
  // second Pagefind: the module under another URL, with its own worker) and searched first. A
  // word said in every episode costs Pagefind time in proportion to the pages that hold it
  // (about 7 s at 10,000 synthetic episodes on a loaded machine), so the first results come
  // from those shards while the whole archive is searched; the rest then join (`joinWords`).
  var FIRST_PASS_PAGES = 250;
  var firstPass = null;
  // With a first pass, the rest waits for it: the other shards' merge and the files by meaning
  // (64 MB at 10,000 episodes) are fetched and parsed once its first card is shown (or it finds
  // nothing), once it has loaded with no search waiting, or after GATE_MS, whichever is first,
  // so they do not slow the first pass down (1.2-1.5 s to the first card at 10,000, 0.7 s).
  var GATE_MS = 1500;
  var openGate;
  var gate = new Promise(function (resolve) { openGate = resolve; });
  setTimeout(function () { openGate(); }, GATE_MS);
  function pagefindOver(shards, tag) {
    return import(bundle + shards[0] + "/pagefind.js" + tag).then(function (module) {
      return module.options({ baseUrl: base })
        .then(function () {
          return Promise.all(shards.slice(1).map(function (name) {
            return module.mergeIndex(bundle + name + "/", { baseUrl: base });
          }));
        })
        .then(function () { return module; });
    });
  }

  // The first pass's shards: the last listed, until FIRST_PASS_PAGES pages; none when they
  // would be most of the archive anyway (or the manifest does not count pages).
  function firstShards(manifest) {
    var shards = manifest.shards, pages = manifest.pages;
    if (!pages || pages.length !== shards.length) return [];
    var total = pages.reduce(function (a, b) { return a + b; }, 0);
    var picked = [], count = 0;
    for (var i = shards.length - 1; i >= 0 && count < FIRST_PASS_PAGES; i--) {
      picked.unshift(shards[i]);
      count += pages[i];
    }
    return count * 2 <= total ? picked : [];
  }

  function load() {
    if (!pagefind) {
      var manifest = fetch(bundle + "shards.json")
        .then(function (response) {
          if (!response.ok) throw new Error("no search index (" + response.status + ")");
          return response.json();
        })
        .then(function (manifest) {
          if (!(manifest.shards || []).length) throw new Error("the search index is empty");
          return manifest;
        });
      firstPass = manifest.then(function (m) {
        var few = firstShards(m);
        return few.length ? pagefindOver(few, "?first") : null;
      }).catch(function () { return null; });  // the whole archive's search still answers
      firstPass.then(function (pf) { if (!pf || !latest) openGate(); });
      pagefind = Promise.all([manifest, gate]).then(function (parts) { return pagefindOver(parts[0].shards, ""); });
      pagefind.catch(function () { pagefind = null; });  // a later search tries again
    }
    return pagefind;
  }

  // Search by meaning (ingest/sitegen/semantic.py): on the first query the model, its vocabulary
  // and every shard's passage vectors are fetched, once; a hit's sentences only when it is shown.
  function fetchOk(url, as) {
    return fetch(url).then(function (response) {
      if (!response.ok) throw new Error(url + ": " + response.status);
      return response[as]();
    });
  }

  function loadSemantic() {
    if (!semantic) {
      semantic = gate.then(function () { return fetchOk(semanticRoot + "index.json", "json"); }).then(function (index) {
        // A shard that cannot be fetched is left out: the others still answer by meaning.
        var shards = (index.shards || []).map(function (name) {
          var folder = semanticRoot + name + "/";
          return Promise.all([fetchOk(folder + "passages.json", "json"), fetchOk(folder + "vectors.bin", "arrayBuffer")])
            .then(function (parts) {
              var numbers = [], seen = {};
              parts[0].passages.forEach(function (p) { numbers.push(seen[p[0]] = (seen[p[0]] === undefined ? 0 : seen[p[0]] + 1)); });
              return { folder: folder, episodes: parts[0].episodes, passages: parts[0].passages, numbers: numbers, vectors: parts[1], texts: {}, textPassages: parts[0].text_passages };
            })
            .catch(function () { return null; });
        });
        return Promise.all([fetchOk(semanticRoot + "vocab.txt", "text"), fetchOk(semanticRoot + "model.bin", "arrayBuffer"), Promise.all(shards)])
          .then(function (parts) {
            var loaded = parts[2].filter(Boolean);
            if (parts[2].length && !loaded.length) throw new Error("no passage vectors could be fetched");
            return { model: new window.PodarchiveSemantic.Model(parts[0], parts[1]), shards: loaded };
          });
      });
      semantic.catch(function () { semantic = null; });
    }
    return semantic;
  }

  // A hit by meaning is shown only when its cosine with the query (static vectors) reaches the
  // floor and is within MEANING_BELOW_BEST of the best hit's: without them every query listed
  // the ten nearest episodes, related or not ("reverse interview" listed pay ranges). Chosen
  // on the sample show beside The Changelog (no answer lost, wrong hits per query 9.1 -> 4.9),
  // checked on Brain Science, held out (no answer lost; 3 of 32 off-topic queries list
  // anything, 32 without): bench/meaning_floor.py.
  var MEANING_FLOOR = 0.3;
  var MEANING_BELOW_BEST = 0.15;
  function closeEnough(score, best) { return score >= MEANING_FLOOR && score >= best - MEANING_BELOW_BEST; }

  // Episodes by their passage closest in meaning to the query, best first.
  function byMeaning(q, topic) {
    return loadSemantic().then(function (index) {
      var query = index.model.embed(q);
      if (!query.some(function (x) { return x !== 0; })) return [];
      var best = {};
      index.shards.forEach(function (shard) {
        var scores = window.PodarchiveSemantic.scores(shard.vectors, index.model.dimension, query);
        for (var i = 0; i < scores.length; i++) {
          var e = shard.passages[i][0], episode = shard.episodes[e];
          if (topic && episode.topics.indexOf(topic) < 0) continue;
          var old = best[episode.url];
          if (!old || old.score < scores[i]) best[episode.url] = { score: scores[i], shard: shard, episode: e, passage: i, data: episode };
        }
      });
      var ranked = Object.keys(best).map(function (url) { return best[url]; })
        .sort(function (a, b) { return b.score - a.score; });
      var top = ranked.length ? ranked[0].score : 0;
      return ranked.filter(function (hit) { return closeEnough(hit.score, top); }).slice(0, MEANING_SHOWN)
        .map(function (hit) { hit.model = index.model; hit.query = query; return hit; });
    });
  }

  // A hit by meaning lands on its passage's sentence closest to the query (its sentences are
  // fetched with those of the few passages around it, ingest/sitegen/semantic.py TEXT_PASSAGES).
  function moment(hit, q) {
    var shard = hit.shard;
    var number = shard.numbers[hit.passage], chunk = Math.floor(number / shard.textPassages);
    var name = hit.episode + "-" + chunk;
    var texts = shard.texts[name] || (shard.texts[name] = fetchOk(shard.folder + "text/" + name + ".json", "json"));
    return texts.then(function (text) {
      var said = text.passages[number % shard.textPassages] || [];
      var best = null, bestScore = -Infinity;
      // A sentence is scored with the one after it: one short sentence is too few tokens for
      // a bag of them to say what it is about (chosen on the sample show, bench/relevance.py).
      said.forEach(function (sentence, i) {
        var text = sentence[1] + (i + 1 < said.length ? " " + said[i + 1][1] : "");
        var score = window.PodarchiveSemantic.dot(hit.model.embed(text), hit.query);
        if (score > bestScore) { best = sentence; bestScore = score; }
      });
      if (!best) return null;
      var words = queryWords(q);
      var snippet = best[1].split(/\s+/).map(function (word) {
        return { text: word, mark: words.some(function (w) { return word.toLowerCase().replace(/[^a-z0-9]/g, "").indexOf(w) === 0; }) };
      });
      return { seconds: Math.max(0, Math.floor(best[0] / 10 - LEAD_SECONDS)), snippet: snippet, cutBefore: false, cutAfter: false, meaning: true };
    });
  }

  // The query's words marked in a hit by meaning: those of four letters or more, by their
  // first five (a crude stem: "interviews" marks "interview").
  function queryWords(q) {
    return q.toLowerCase().split(/[^a-z0-9]+/).filter(function (w) { return w.length >= 4; })
      .map(function (w) { return w.slice(0, 5); });
  }

  // Typed search syntax means exact words (ingest/search/hybrid.py is_exact): no meaning.
  function isExact(q) { return /["*^()]|\b(?:OR|AND|NOT|NEAR)\b/.test(q); }

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

  // A card's sub-results: its paragraphs matched by words, then the moment found by meaning.
  // Words matched near that moment win: they land on the word itself.
  function cardHits(data, found) {
    var hits = data ? paragraphHits(data) : [];
    var near = found && found.moment;
    if (near && !hits.some(function (hit) { return Math.abs(hit.seconds - near.seconds) <= 10; })) {
      hits.push(near);
    }
    return hits.slice(0, SUB_RESULTS);
  }

  // A result card: Pagefind's `data` (null for an episode found by meaning only) and the hit
  // by meaning (`found`: its episode and moment, else null).
  function card(data, q, found) {
    var li = el("li", "card");
    var h = el("h3");
    var url = data ? data.url : base + found.data.url;
    var a = el("a", "", data ? (data.meta && data.meta.title) || data.url : found.data.title);
    a.href = url;
    h.appendChild(a);
    li.appendChild(h);
    var meta = data ? [data.meta && data.meta.show, data.meta && data.meta.date].filter(Boolean).join(" · ") : found.data.meta;
    if (meta) li.appendChild(el("p", "meta", meta));
    var hits = cardHits(data, found);
    if (!hits.length) {  // the words are in the title or show notes only
      li.appendChild(excerpt(data.excerpt));
      return li;
    }
    var subs = el("div", "sub-results");
    hits.forEach(function (hit) {
      var sub = el("div", "sub-result" + (hit.meaning ? " by-meaning" : ""));
      if (hit.meaning) sub.appendChild(el("p", "sub-kind", "Close in meaning"));
      sub.appendChild(snippet(hit));
      var jump = el("a", "jump", "▶ Play from " + stamp(hit.seconds));
      // The page highlights the words (q) and starts playing (play) at the second (#t=).
      var params = new URLSearchParams();
      if (q) params.set("q", q);
      params.set("play", "1");
      jump.href = url + "?" + params.toString() + "#t=" + hit.seconds;
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
    form.setAttribute("data-state", "searching");
    var meaning = q && !isExact(q) && semanticRoot && window.PodarchiveSemantic;
    var options = topic ? { filters: { topic: [topic] } } : {};
    var words = load().then(function (pf) { return pf.search(q || null, options); });
    var early = firstPass.then(function (pf) { return pf ? pf.search(q || null, options) : null; })
      .catch(function () { return null; });
    early.then(function (search) { if (!search || !search.results.length) openGate(); });
    var first = firstWords(early, words);
    var done = meaning ? hybrid(q, topic, first, words, mine) : wordsOnly(q, first, words, mine);
    return done.catch(function (error) {
      status.textContent = "Search is unavailable: " + error.message;
    });
  }

  function finish(mine, text) {
    if (mine !== latest) return;
    status.textContent = text;
    form.setAttribute("data-state", "done");
  }

  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  // Words only (typed syntax, a topic alone, or no index by meaning): Pagefind's ranking.
  function wordsOnly(q, first, words, mine) {
    return first.then(function (winner) { return showWords(q, winner, words, mine); }).then(function (shown) {
      if (!shown) return;
      var total = shown.total;
      finish(mine, total === 0 ? "No episodes match."
        : plural(total, "episode") + (total > SHOWN ? ", showing the best " + SHOWN : ""));
    });
  }

  // Whichever word search is in first: the first pass's ({first}) or the whole archive's
  // ({full}); the first pass only while the archive's is still running.
  function firstWords(early, words) {
    var full = words.then(function (search) { return { full: search }; });
    return Promise.race([
      early.then(function (search) { return search ? { first: search } : full; }),
      full,
    ]);
  }

  // A search's best SHOWN results as entries (promises): its data, card and rank (`lex`).
  // Every result's data is asked for at once; cards appear in rank order as it arrives.
  function entries(search, q) {
    return search.results.slice(0, SHOWN).map(function (r, i) {
      return r.data().then(function (data) {
        return { id: r.id, key: pageKey(data.url), data: data, score: r.score, lex: i + 1, li: card(data, q) };
      });
    });
  }

  // The word results on the page as they come: the whole archive's, or the first pass's and
  // then the archive's joining them. Resolves to {shown: entries in page order, total}.
  function showWords(q, winner, words, mine) {
    if (mine !== latest) return null;
    var shown = [];
    list.replaceChildren();
    if (winner.full) {
      return inOrder(entries(winner.full, q), mine, shown)
        .then(function () { return { shown: shown, total: winner.full.results.length }; });
    }
    status.textContent = "Searching every episode…";
    return inOrder(entries(winner.first, q), mine, shown)
      .then(function () { return words; })
      .then(function (search) { return joinWords(q, search, shown, mine); });
  }

  // The whole archive's word results join the first pass's without moving them: each new one
  // is inserted above the first shown card it outscores (a page's score is the same in both:
  // each shard scores its own pages, and the first pass's shards are the archive's own).
  function joinWords(q, search, shown, mine) {
    if (mine !== latest) return null;
    var byId = {};
    shown.forEach(function (e) { byId[e.id] = e; e.lex = SHOWN + 1; });
    var top = search.results.slice(0, SHOWN);
    var pending = top.map(function (r, i) {
      if (byId[r.id]) { byId[r.id].lex = i + 1; return Promise.resolve(null); }
      return r.data().then(function (data) {
        return { id: r.id, key: pageKey(data.url), data: data, score: r.score, lex: i + 1, li: card(data, q) };
      });
    });
    return Promise.all(pending).then(function (news) {
      if (mine !== latest) return null;
      var order = shown.slice();
      news.forEach(function (e) {
        if (!e) return;
        var at = order.length;
        for (var k = 0; k < order.length; k++) if (order[k].score < e.score) { at = k; break; }
        list.insertBefore(e.li, at < order.length ? order[at].li : null);
        order.splice(at, 0, e);
      });
      return { shown: order, total: search.results.length };
    });
  }

  // Cards (promises of entries: {li, ...}) appended in order, each as soon as it and those
  // before it are in; the entries shown are pushed onto `shown`.
  function inOrder(pending, mine, shown) {
    return pending.reduce(function (done, next) {
      return done.then(function () { return next; }).then(function (item) {
        if (mine !== latest || !item) return;
        list.appendChild(item.li);
        openGate();
        if (shown) shown.push(item);
      });
    }, Promise.resolve());
  }

  function pageKey(url) { return String(url).replace(/index\.html$/, ""); }

  // By words and by meaning: Pagefind's episodes and the static model's, fused by reciprocal
  // rank (as ingest/search/hybrid.py fuses passages). Search by meaning failing leaves words.
  // Whichever half comes in first is shown at once. Words first (a large archive's first
  // pass): the meaning then joins them without moving them (see `join`). Meaning first (on a
  // fresh page its files are in before Pagefind has loaded and merged its shards): its
  // episodes are shown, and the fused list replaces them once the words are in.
  var RRF_K = 60;
  function hybrid(q, topic, first, words, mine) {
    var meaning = { hits: undefined };  // undefined while it is coming; null when unavailable
    var wordsIn = { done: false };
    var semanticHits = byMeaning(q, topic).catch(function () { return null; })
      .then(function (hits) { meaning.hits = hits; return hits; });
    semanticHits.then(function (hits) {
      if (!wordsIn.done && hits && hits.length) meaningFirst(q, hits, mine, wordsIn);
    });
    return first.then(function (winner) {
      wordsIn.done = true;
      if (mine !== latest) return null;
      var full = winner.full;
      if (full && (meaning.hits !== undefined || !full.results.length)) {
        // Both in (or no words to show first): one list, fused, once both are in.
        if (!full.results.length) status.textContent = "Searching by meaning…";
        return semanticHits.then(function (hits) {
          return Promise.all(entries(full, q)).then(function (lexical) {
            return fused(q, lexical, full.results.length, hits, mine);
          });
        });
      }
      return showWords(q, winner, words, mine).then(function (shown) {
        if (!shown) return null;
        status.textContent = plural(shown.total, "episode") + " with every word; searching by meaning…";
        return semanticHits.then(function (hits) { return join(q, shown.shown, shown.total, hits, mine); });
      });
    });
  }

  // The episodes found by meaning, shown in their order while the words are still coming;
  // nothing more is added once they are in (the fused list then replaces these).
  function meaningFirst(q, hits, mine, wordsIn) {
    var pending = hits.map(function (hit) {
      return place({ found: hit }, q).then(function (near) {
        return near ? { li: card(null, q, hit) } : null;
      });
    });
    var shown = 0;
    return pending.reduce(function (done, next) {
      return done.then(function () { return next; }).then(function (item) {
        if (mine !== latest || wordsIn.done || !item) return;
        if (!shown++) list.replaceChildren();
        list.appendChild(item.li);
        status.textContent = plural(shown, "episode") + " close in meaning; searching the words…";
      });
    }, Promise.resolve()).catch(noop);
  }

  // Fused scores: each episode's reciprocal ranks by words (`lex`) and by meaning summed.
  function fuse(lexical, hits) {
    var entries = {}, keys = [];
    lexical.forEach(function (e) {
      entries[e.key] = e; keys.push(e.key);
      e.score = 1 / (RRF_K + e.lex);
    });
    (hits || []).forEach(function (hit, i) {
      var key = pageKey(base + hit.data.url);
      var e = entries[key];
      if (!e) { e = entries[key] = { key: key, score: 0 }; keys.push(key); }
      e.found = hit; e.sem = i + 1; e.score += 1 / (RRF_K + i + 1);
    });
    return keys.map(function (k) { return entries[k]; })
      .sort(function (a, b) { return b.score - a.score || (a.lex || 1e9) - (b.lex || 1e9); });
  }

  // A hit by meaning's moment (null when its sentences are missing), set on the hit.
  function place(e, q) {
    if (!e.found) return Promise.resolve(null);
    return moment(e.found, q).catch(function () { return null; })
      .then(function (near) { e.found.moment = near; return near; });
  }

  // Both lists in: one list in fused order, each card as soon as it and those before it are in.
  function fused(q, lexical, total, hits, mine) {
    if (mine !== latest) return null;
    var pending = fuse(lexical, hits).slice(0, SHOWN).map(function (e) {
      return place(e, q).then(function (near) {
        if (!e.data && !near) return null;  // found by meaning, but its sentences are missing
        e.li = card(e.data || null, q, e.found);
        return e;
      });
    });
    list.replaceChildren();
    return inOrder(pending, mine).then(function () { finishHybrid(mine, total, hits); });
  }

  // The meaning joins word results already shown, without moving them: a shown episode also
  // found by meaning gains its moment in place, and an episode found by meaning alone is
  // inserted above the first shown card that fuses below it (never above the first card, which
  // holds every word: reciprocal rank puts a word hit first too).
  function join(q, shown, total, hits, mine) {
    if (mine !== latest) return null;
    var ranked = fuse(shown, hits).filter(function (e) { return e.found; });
    return Promise.all(ranked.map(function (e) { return place(e, q); })).then(function () {
      if (mine !== latest) return;
      var order = shown.slice();
      ranked.forEach(function (e) {
        if (!e.found.moment) return;
        if (e.li) {  // shown: its moment by meaning added, if the card has room for it
          var hits = cardHits(e.data, e.found);
          if (hits.indexOf(e.found.moment) < 0) return;
          var li = card(e.data, q, e.found);
          list.replaceChild(li, e.li);
          e.li = li;
          return;
        }
        var at = order.length;
        for (var k = 1; k < order.length; k++) if (order[k].score < e.score) { at = k; break; }
        if (at >= SHOWN) return;
        e.li = card(null, q, e.found);
        list.insertBefore(e.li, at < order.length ? order[at].li : null);
        order.splice(at, 0, e);
      });
      finishHybrid(mine, total, hits);
    });
  }

  function finishHybrid(mine, total, hits) {
    var count = list.children.length;
    var note = hits === null ? " (by words only: search by meaning is unavailable)"
      : total ? ", " + total + " with every word" : ", none with every word";
    finish(mine, count === 0 ? "No episodes match." : plural(count, "episode") + " by words and meaning" + note);
  }

  // Fetched before the first search, as the page opens: Pagefind and every shard's entry and
  // metadata (small), and the model and vectors by meaning (most of the bytes) once a search
  // by meaning is near: a query in the address, or the box focused or typed in. On a fresh
  // page these loads were most of the wait for the first result.
  function noop() {}
  function warmMeaning() {
    if (semanticRoot && window.PodarchiveSemantic && !isExact(input.value)) loadSemantic().catch(noop);
  }
  load().catch(noop);

  form.addEventListener("submit", function (event) { event.preventDefault(); clearTimeout(timer); run(); });
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(run, 250);
    warmMeaning();
    // Pagefind fetches the index chunks of the words typed so far while the pause runs out.
    var q = input.value.trim();
    if (q) load().then(function (pf) { return pf.preload(q, select.value ? { filters: { topic: [select.value] } } : {}); }).catch(noop);
  });
  input.addEventListener("focus", warmMeaning);
  select.addEventListener("change", function () { clearTimeout(timer); run(); });

  var params = new URLSearchParams(window.location.search);
  input.value = params.get("q") || "";
  var topic = params.get("topic") || "";
  if (topic && Array.prototype.some.call(select.options, function (o) { return o.value === topic; })) select.value = topic;
  if (input.value) warmMeaning();
  if (input.value || select.value) run();
})();
