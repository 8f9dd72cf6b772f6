// Search by meaning in the browser: the static model of ingest/embed/static.py (a vector per
// WordPiece token, mean-pooled), its tokenizer (BERT's uncased basic tokenizer and WordPiece, as
// the Python `tokenizers` library runs them), and the passage vectors of ingest/sitegen/semantic.py.
// The same text gives the same vector here as in Python (tests/test_site_semantic.py).
(function (root) {
  "use strict";

  var SKIPPED = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
  var MAX_WORD_CHARS = 100;  // a longer word is [UNK] (WordPiece's max_input_chars_per_word)
  // BertNormalizer: control characters dropped (tab, newline and CR are whitespace), CJK
  // ideographs spaced apart, accents stripped (NFD, non-spacing marks removed), lower case.
  var CONTROL = /[\0\ufffd]|(?![\t\n\r])[\p{Cc}\p{Cf}\p{Co}\p{Cn}]/gu;
  var CJK = /([\u4E00-\u9FFF\u3400-\u4DBF\uF900-\uFAFF\u{20000}-\u{2A6DF}\u{2A700}-\u{2B73F}\u{2B740}-\u{2B81F}\u{2B820}-\u{2CEAF}\u{2F800}-\u{2FA1F}])/gu;
  var MARKS = /\p{Mn}/gu;
  // BertPreTokenizer: split at whitespace, and every punctuation character is a word of its own
  // (ASCII symbols count as punctuation, as in BERT).
  var PUNCTUATION = /([!-\/:-@\[-`{-~]|\p{P})/u;

  function Model(vocabText, buffer) {
    var words = vocabText.split("\n");
    if (words.length && words[words.length - 1] === "") words.pop();
    this.ids = new Map();
    for (var i = 0; i < words.length; i++) this.ids.set(words[i], i);
    var count = words.length;
    this.dimension = (buffer.byteLength - 4 * count) / count;
    if (!(this.dimension > 0) || this.dimension % 1) throw new Error("the search model does not match its vocabulary");
    this.scales = new Float32Array(buffer, 0, count);
    this.rows = new Int8Array(buffer, 4 * count, count * this.dimension);
    this.unknown = this.ids.get("[UNK]");
    this.skipped = new Set(SKIPPED.map(function (t) { return this.ids.get(t); }, this));
  }

  Model.prototype.words = function (text) {
    var normal = String(text || "").replace(CONTROL, "").replace(CJK, " $1 ")
      .normalize("NFD").replace(MARKS, "").toLowerCase();
    var out = [];
    normal.split(/\s+/).forEach(function (chunk) {
      chunk.split(PUNCTUATION).forEach(function (piece) { if (piece) out.push(piece); });
    });
    return out;
  };

  // WordPiece: the longest prefix in the vocabulary, then the longest "##" continuation, and so
  // on; a word that cannot be covered is one [UNK].
  Model.prototype.tokenIds = function (text) {
    var ids = this.ids, out = [];
    this.words(text).forEach(function (word) {
      var chars = Array.from(word);
      if (chars.length > MAX_WORD_CHARS) { out.push(this.unknown); return; }
      var pieces = [], start = 0;
      while (start < chars.length) {
        var end = chars.length, found = -1;
        while (start < end) {
          var piece = (start ? "##" : "") + chars.slice(start, end).join("");
          if (ids.has(piece)) { found = ids.get(piece); break; }
          end--;
        }
        if (found < 0) { pieces = [this.unknown]; break; }
        pieces.push(found);
        start = end;
      }
      out.push.apply(out, pieces);
    }, this);
    var skipped = this.skipped;
    return out.filter(function (id) { return !skipped.has(id); });
  };

  // The mean of the tokens' rows, L2-normalised (all zeros for a text of no tokens).
  Model.prototype.embed = function (text) {
    var d = this.dimension, vector = new Float32Array(d);
    var ids = this.tokenIds(text);
    for (var k = 0; k < ids.length; k++) {
      var scale = this.scales[ids[k]], offset = ids[k] * d;
      for (var j = 0; j < d; j++) vector[j] += this.rows[offset + j] * scale;
    }
    var norm = 0;
    for (j = 0; j < d; j++) norm += vector[j] * vector[j];
    norm = Math.sqrt(norm);
    if (norm > 0) for (j = 0; j < d; j++) vector[j] /= norm;
    return vector;
  };

  // A shard's vectors (float32 scales, then int8 rows): the cosine of each with `query`.
  function scores(buffer, dimension, query) {
    var count = buffer.byteLength / (4 + dimension);
    var scales = new Float32Array(buffer, 0, count);
    var rows = new Int8Array(buffer, 4 * count, count * dimension);
    var out = new Float32Array(count);
    for (var i = 0; i < count; i++) {
      var dot = 0, offset = i * dimension;
      for (var j = 0; j < dimension; j++) dot += rows[offset + j] * query[j];
      out[i] = dot * scales[i];
    }
    return out;
  }

  function dot(a, b) {
    var sum = 0;
    for (var i = 0; i < a.length; i++) sum += a[i] * b[i];
    return sum;
  }

  var api = { Model: Model, scores: scores, dot: dot };
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.PodarchiveSemantic = api;
})(this);
