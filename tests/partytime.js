// Parse a feed with podcast-partytime (a Podcasting 2.0 parser from the npm registry) and print
// what it read as JSON: `node tests/partytime.js FEED.xml`.
"use strict";
const fs = require("fs");
const path = require("path");
const { parseFeed } = require(path.join(__dirname, "node_modules", "podcast-partytime"));

const feed = parseFeed(fs.readFileSync(process.argv[2], "utf8"), { allowMissingGuid: true });
process.stdout.write(JSON.stringify(feed));
