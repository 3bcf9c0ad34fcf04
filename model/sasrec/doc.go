// Package sasrec is Aisle's self-attention sequence recommender: a SASRec-style
// causal transformer over each shopper's item sequence (item embeddings plus
// learned positions, multi-head self-attention blocks with layer norm,
// dropout and a GELU feed-forward layer), trained for next-item prediction
// with a softmax cross-entropy over the whole catalogue at every position.
//
// Forward, backward and Adam are written by hand on contiguous float32
// slices (no tensor library), parallel over the sequences of a batch.
// Serving is real time by construction: Score runs the network over the
// request's own history, so a click changes the very next answer and
// anonymous sessions work from a list of items.
//
// Dropout masks come from a generator seeded per (epoch, sequence), and the
// per-goroutine gradients are summed in a fixed order, so a run is
// reproducible for a given Config.Seed and Config.Threads.
package sasrec
