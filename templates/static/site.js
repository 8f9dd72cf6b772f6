// Episode pages: timestamps seek the player, #t=SECONDS or ?t=SECONDS starts there, and the
// passage being played is highlighted. Without JavaScript the links still scroll to the passage.
(function () {
  "use strict";
  var audio = document.getElementById("player");
  if (!audio) return;
  var passages = Array.prototype.slice.call(document.querySelectorAll(".passage[data-start]"));
  var starts = passages.map(function (p) { return parseFloat(p.getAttribute("data-start")); });
  var current = null;
  var reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  // "754", "754.5", "12:34" or "1:02:03"; a media-fragment range "754,800" starts at 754.
  function parseTime(value) {
    if (!value) return null;
    value = decodeURIComponent(String(value)).split(",")[0].trim();
    if (/^\d+(\.\d+)?$/.test(value)) return parseFloat(value);
    var m = /^(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)$/.exec(value);
    if (!m) return null;
    return parseInt(m[1] || "0", 10) * 3600 + parseInt(m[2], 10) * 60 + parseFloat(m[3]);
  }

  // #t= wins over ?t=. Whole seconds naming a passage (id "t=754") mean that passage's exact
  // start, since links floor it; any other time is taken as given.
  function requestedTime() {
    var hash = /^#t=(.+)$/.exec(window.location.hash);
    var t = hash ? parseTime(hash[1]) : parseTime(new URLSearchParams(window.location.search).get("t"));
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

  function highlight(t) {
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

  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    var link = event.target.closest && event.target.closest('a[href^="#t="]');
    if (!link) return;
    var t = parseTime(link.getAttribute("data-t")) ;
    if (t === null) t = parseTime(link.getAttribute("href").slice(3));
    if (t === null) return;
    event.preventDefault();
    history.replaceState(null, "", "#t=" + Math.floor(t));
    seek(t, true);
    if (!link.closest(".passage")) reveal(highlight(t));
  });

  window.addEventListener("hashchange", function () {
    var t = requestedTime();
    if (t !== null) { seek(t, false); reveal(highlight(t)); }
  });

  audio.addEventListener("timeupdate", function () { highlight(audio.currentTime); });

  var start = requestedTime();
  if (start !== null) {
    seek(start, false);
    reveal(highlight(start));
  }
})();
