// Episode pages: timestamps seek the player, #t=SECONDS or ?t=SECONDS starts there, the
// passage being played is highlighted and the address follows it; share buttons copy a link to
// a moment, keys play, pause and skip, and speed and follow-along are remembered. The chapter
// being played is marked too; a soundbite's link (#t=START,END) plays it and stops at its end.
// Without JavaScript the links still scroll to the passage (and the tools stay hidden).
(function () {
  "use strict";
  var audio = document.getElementById("player");
  if (!audio) return;
  var passages = Array.prototype.slice.call(document.querySelectorAll(".passage[data-start]"));
  var starts = passages.map(function (p) { return parseFloat(p.getAttribute("data-start")); });
  var current = null;
  var reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  var SKIP_SECONDS = 15;
  // Browsers cap history calls (Safari: 100 per 30 s), so the address follows playback at
  // most once a second, and exactly on pause or seek.
  var URL_EVERY_MS = 1000;
  var SPEED_KEY = "podarchive.speed";
  var FOLLOW_KEY = "podarchive.follow";
  var speed = document.getElementById("speed");
  var follow = document.getElementById("follow");
  var status = document.querySelector(".share-status");
  var nowPlaying = document.querySelector(".now-playing");
  var chapters = Array.prototype.slice.call(document.querySelectorAll(".chapter[data-start]"));
  var currentChapter = null;
  var stopAt = null;  // the end of a #t=START,END range being played
  var lastUrlUpdate = 0;
  var statusTimer = null;

  // "754", "754.5", "12:34" or "1:02:03"; a media-fragment range "754,800" starts at 754.
  function parseTime(value) {
    if (!value) return null;
    value = decodeURIComponent(String(value)).split(",")[0].trim();
    if (/^\d+(\.\d+)?$/.test(value)) return parseFloat(value);
    var m = /^(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)$/.exec(value);
    if (!m) return null;
    return parseInt(m[1] || "0", 10) * 3600 + parseInt(m[2], 10) * 60 + parseFloat(m[3]);
  }

  // The end of a media-fragment range "754,800" (W3C Media Fragments, temporal), else null.
  function rangeEnd(value) {
    var parts = value ? decodeURIComponent(String(value)).split(",") : [];
    return parts.length > 1 ? parseTime(parts[1]) : null;
  }

  // #t= wins over ?t=. Whole seconds naming a passage (id "t=754") mean that passage's exact
  // start, since links floor it; any other time is taken as given, and so is a search hit's
  // (?q=): it points just before its words, which may be said before the passage's start.
  var query = new URLSearchParams(window.location.search);
  function requestedTime() {
    var hash = /^#t=(.+)$/.exec(window.location.hash);
    var t = hash ? parseTime(hash[1]) : parseTime(query.get("t"));
    if (t !== null && query.get("q")) return t;
    var passage = t !== null && Number.isInteger(t) && document.getElementById("t=" + t);
    return passage && passage.hasAttribute("data-start") ? parseFloat(passage.getAttribute("data-start")) : t;
  }

  // The last passage starting at or before t (binary search: transcripts can be long).
  function passageIndex(t) {
    var lo = 0, hi = starts.length - 1, found = -1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (starts[mid] <= t + 0.25) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return found;
  }

  // localStorage throws where storage is blocked (private modes, file:); then nothing is kept.
  function remembered(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }
  function remember(key, value) {
    try { window.localStorage.setItem(key, value); } catch (e) { /* not kept: fine */ }
  }

  function stamp(seconds) {
    var total = Math.max(0, Math.floor(seconds));
    var h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    return (h ? h + ":" + String(m).padStart(2, "0") : String(m)) + ":" + String(s).padStart(2, "0");
  }

  // Chapters are few: the last one starting at or before t.
  function highlightChapter(t) {
    var found = null;
    chapters.forEach(function (item) {
      if (parseFloat(item.getAttribute("data-start")) <= t + 0.25) found = item;
    });
    if (found === currentChapter) return;
    if (currentChapter) { currentChapter.classList.remove("current"); currentChapter.removeAttribute("aria-current"); }
    if (found) { found.classList.add("current"); found.setAttribute("aria-current", "true"); }
    currentChapter = found;
  }

  function highlight(t) {
    highlightChapter(t);
    var index = passageIndex(t);
    var passage = index >= 0 ? passages[index] : null;
    if (passage === current) return passage;
    if (current) { current.classList.remove("current"); current.removeAttribute("aria-current"); }
    if (passage) { passage.classList.add("current"); passage.setAttribute("aria-current", "true"); }
    current = passage;
    return passage;
  }

  function reveal(passage) {
    if (passage) passage.scrollIntoView({ block: "center", behavior: reduceMotion ? "auto" : "smooth" });
  }

  function seek(t, play) {
    function apply() {
      audio.currentTime = t;
      highlight(t);
      if (play) {
        var started = audio.play();
        if (started && started.catch) started.catch(function () { /* autoplay refused: stay paused */ });
      }
    }
    if (audio.readyState >= 1) { apply(); return; }
    audio.addEventListener("loadedmetadata", apply, { once: true });
    if (audio.preload === "none") {  // a remote enclosure: fetch it only once someone asks
      audio.preload = "metadata";
      if (audio.networkState !== HTMLMediaElement.NETWORK_LOADING) audio.load();
    }
  }

  function setUrlTime(t) {
    history.replaceState(null, "", "#t=" + Math.floor(t));
    lastUrlUpdate = Date.now();
  }

  // The page's address at second t: what a share button copies.
  function momentUrl(t) {
    return window.location.origin + window.location.pathname + "#t=" + Math.floor(t);
  }

  function say(text) {
    if (!status) return;
    status.textContent = text;
    clearTimeout(statusTimer);
    statusTimer = setTimeout(function () { status.textContent = ""; }, 5000);
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  // Last resort where the Clipboard API is missing or refused (plain http on another host).
  function legacyCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    var copied = false;
    try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
    area.remove();
    return copied;
  }

  // The plain-text clipboard holds the link alone (it pastes into an address bar); where the
  // browser takes rich clipboard items, the HTML flavour quotes the passage above the link.
  function share(t, quote) {
    shareLink(momentUrl(t), stamp(t), quote);
  }

  function shareLink(url, when, quote) {
    var done = function () { say("Link to " + when + " copied"); };
    var failed = function () {
      if (legacyCopy(url)) done(); else say("Copy this link: " + url);
    };
    var clipboard = navigator.clipboard;
    if (clipboard && clipboard.write && window.ClipboardItem && quote) {
      var title = document.querySelector("h1") ? document.querySelector("h1").textContent.trim() : "";
      var html = "<blockquote>" + escapeHtml(quote) + "</blockquote><p><a href=\"" + escapeHtml(url) + "\">"
        + escapeHtml((title ? title + " at " : "") + when) + "</a></p>";
      try {
        var item = new ClipboardItem({
          "text/plain": new Blob([url], { type: "text/plain" }),
          "text/html": new Blob([html], { type: "text/html" }),
        });
        clipboard.write([item]).then(done, function () {
          clipboard.writeText(url).then(done, failed);
        });
        return;
      } catch (e) { /* this browser's ClipboardItem refuses HTML: copy the link alone */ }
    }
    if (clipboard && clipboard.writeText) { clipboard.writeText(url).then(done, failed); return; }
    failed();
  }

  function passageText(passage) {
    var text = passage && passage.querySelector(".said p");
    return text ? text.textContent.trim() : "";
  }

  function play() {
    if (audio.readyState < 1 && audio.preload === "none") { seek(audio.currentTime, true); return; }
    var started = audio.play();
    if (started && started.catch) started.catch(function () { /* refused: stay paused */ });
  }

  function skip(seconds) {
    var end = isFinite(audio.duration) ? audio.duration : Infinity;
    var t = Math.min(Math.max(0, audio.currentTime + seconds), end);
    seek(t, !audio.paused);
  }

  // Keys a focused control uses itself (Space presses a button, arrows move in a select, the
  // audio element has its own) are left to it, and so is anything with a modifier.
  function ownsKeys(target) {
    return Boolean(target.closest && target.closest(
      "input, textarea, select, button, audio, video, summary, [contenteditable]"));
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    if (ownsKeys(event.target)) return;
    var key = event.key;
    if ((key === " " && !event.shiftKey) || key === "k" || key === "K") {
      if (audio.paused) play(); else audio.pause();
    } else if (key === "j" || key === "J" || key === "ArrowLeft") {
      skip(-SKIP_SECONDS);
    } else if (key === "l" || key === "L" || key === "ArrowRight") {
      skip(SKIP_SECONDS);
    } else {
      return;
    }
    event.preventDefault();  // Space would scroll the page
  });

  // One share button per paragraph, made here: without the script there is nothing to copy.
  passages.forEach(function (passage) {
    var when = passage.querySelector(".when");
    if (!when) return;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "share";
    button.textContent = "Share";
    button.setAttribute("aria-label", "Copy a link to " + stamp(parseFloat(passage.getAttribute("data-start"))));
    button.addEventListener("click", function () {
      share(parseFloat(passage.getAttribute("data-start")), passageText(passage));
    });
    when.appendChild(button);
  });

  var shareNow = document.querySelector(".share-now");
  if (shareNow) {
    shareNow.addEventListener("click", function () {
      share(audio.currentTime, passageText(highlight(audio.currentTime)));
    });
  }

  // Soundbites: "Copy link" copies the page's address with the soundbite's range.
  Array.prototype.forEach.call(document.querySelectorAll(".share-bite"), function (button) {
    var fragment = button.getAttribute("data-fragment") || "";
    var t = parseTime(fragment.replace(/^t=/, ""));
    if (t === null) return;
    button.setAttribute("aria-label", "Copy a link to the soundbite at " + stamp(t));
    button.addEventListener("click", function () {
      var item = button.closest(".soundbite");
      var label = item && item.querySelector(".label");
      shareLink(window.location.origin + window.location.pathname + "#" + fragment, stamp(t),
        label ? label.textContent.trim() : "");
    });
    button.hidden = false;
  });

  function setSpeed(rate) {
    // defaultPlaybackRate too: load() (a remote file fetched on first play) resets the rate to it.
    audio.defaultPlaybackRate = rate;
    audio.playbackRate = rate;
  }
  if (speed) {
    var savedRate = parseFloat(remembered(SPEED_KEY));
    if (Array.prototype.some.call(speed.options, function (o) { return parseFloat(o.value) === savedRate; })) {
      speed.value = String(savedRate);
      setSpeed(savedRate);
    }
    speed.addEventListener("change", function () {
      setSpeed(parseFloat(speed.value));
      remember(SPEED_KEY, speed.value);
    });
  }
  if (follow) {
    follow.checked = remembered(FOLLOW_KEY) === "1";
    follow.addEventListener("change", function () {
      remember(FOLLOW_KEY, follow.checked ? "1" : "0");
      if (!follow.checked && nowPlaying) nowPlaying.textContent = "";
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll(".player-tools, .shortcuts"), function (node) {
    node.hidden = false;
  });

  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    var link = event.target.closest && event.target.closest('a[href^="#t="]');
    if (!link) return;
    var t = parseTime(link.getAttribute("data-t")) ;
    if (t === null) t = parseTime(link.getAttribute("href").slice(3));
    if (t === null) return;
    event.preventDefault();
    setUrlTime(t);
    stopAt = rangeEnd(link.getAttribute("href").slice(3));
    seek(t, true);
    if (!link.closest(".passage")) reveal(highlight(t));
  });

  window.addEventListener("hashchange", function () {
    var t = requestedTime();
    if (t !== null) { seek(t, false); reveal(highlight(t)); }
  });

  audio.addEventListener("timeupdate", function () {
    if (stopAt !== null && audio.currentTime >= stopAt) { stopAt = null; audio.pause(); }
    var before = current;
    var passage = highlight(audio.currentTime);
    if (audio.paused) return;
    if (Date.now() - lastUrlUpdate >= URL_EVERY_MS) setUrlTime(audio.currentTime);
    if (passage && passage !== before && follow && follow.checked) {
      reveal(passage);
      if (nowPlaying) {
        var speaker = passage.querySelector(".speaker");
        nowPlaying.textContent = (speaker ? speaker.textContent.trim() + ": " : "") + passageText(passage);
      }
    }
  });
  // Paused or moved: the address says exactly where, ready to copy from the address bar.
  audio.addEventListener("pause", function () { setUrlTime(audio.currentTime); });
  audio.addEventListener("seeked", function () {
    if (audio.currentTime > 0 || window.location.hash) setUrlTime(audio.currentTime);
  });

  // A search hit's words (?q=) marked in the paragraphs it lands on: each typed word, and
  // words starting with it less a plural or -ed/-ing ending (search stems them too).
  function stems(q) {
    return String(q || "").toLowerCase().split(/[^a-z0-9']+/).filter(function (w) {
      return w && w !== "or" && w !== "and" && w !== "not" && w !== "near";
    }).map(function (w) { return w.length > 4 ? w.replace(/(ing|ed|es|s)$/, "") : w; });
  }

  function markWords(passage, words) {
    var text = passage && passage.querySelector(".said p");
    if (!text || !words.length || text.querySelector("mark")) return 0;
    var marked = 0;
    var content = text.textContent;
    text.textContent = "";
    content.split(/(\s+)/).forEach(function (token) {
      var plain = token.toLowerCase().replace(/[^a-z0-9']/g, "");
      var hit = plain && words.some(function (w) { return plain.indexOf(w) === 0; });
      if (hit) { marked += 1; var mark = document.createElement("mark"); mark.className = "hit"; mark.textContent = token; text.appendChild(mark); }
      else text.appendChild(document.createTextNode(token));
    });
    return marked;
  }

  var start = requestedTime();
  var hashRange = /^#t=(.+)$/.exec(window.location.hash);
  stopAt = hashRange ? rangeEnd(hashRange[1]) : null;
  if (start !== null) {
    var words = stems(query.get("q"));
    if (words.length) {
      // The words are said just after the link's second: in its paragraph or the next.
      [passageIndex(start), passageIndex(start + 2)].forEach(function (index) {
        if (index >= 0) markWords(passages[index], words);
      });
    }
    var playing = query.get("play") === "1";
    seek(start, playing);
    reveal(highlight(start));
    if (playing) {
      audio.addEventListener("play", function () { if (status) status.textContent = ""; }, { once: true });
      setTimeout(function () {
        if (audio.paused) say("Press play to listen from " + stamp(start) + " (this browser does not start audio by itself).");
      }, 1500);
    }
  }
})();
