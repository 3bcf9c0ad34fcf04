// Package itemfilter is a closed-form item-item model that blends two linear
// filters of the interaction matrix X (users × items) into one n×n matrix B,
// so a user's scores are their history row times B, like EASE:
//
//   - a degree-normalised EASE: EASE (Steck, WWW 2019) fitted on X·D^-β,
//     D the item degrees, then mapped back by D^-β·B'·D^β, so popular items
//     weigh less as inputs and as targets of the regression;
//   - optionally GF-CF's graph filter (Shen et al., "How Powerful is Graph
//     Convolution for Recommendation?", CIKM 2021): the normalised item Gram
//     P̃ = R̃ᵀR̃ with R̃ = D_U^-½·X·D_I^-½, plus an ideal low-pass filter
//     D^-½·V·Vᵀ·D^½ from the k leading eigenvectors V of P̃ (found by block
//     subspace iteration, never a full eigendecomposition).
//
// Scores are multiplied by degree^-δ (a mild correction of the popularity
// bias the regression keeps), and the t-th newest history item can count
// decay^t, for shops where the latest clicks say most.
//
// By default an iALS model (package mf) is fitted on the same data and
// mixed in at score level: (1−w)·z(filter) + w·z(iALS), each standardised
// over the catalogue (blend.Mix), w = ials_weight (0.4, chosen on the
// validation splits of ML-1M, ML-100k and Office; docs/decisions/0037).
// After the iALS part, a user-neighbour part is mixed in the same way,
// (1−w)·z(filter and iALS) + w·z(neighbours), w = uknn_weight (0.1): the
// 50 training users whose rows share the most (rarer items counting more)
// of the history vote for their items (userknn.go; docs/decisions/0077).
// The history bonus and the iALS share are query-time settings
// (model.Adjustable): `aisle eval recommend` chooses them on the validation
// split from one fit (docs/decisions/0048).
//
// Like EASE it needs dense n×n matrices: about 24·n² bytes while fitting and
// 4·n² fitted, so it refuses catalogues above max_items (20,000 by default).
//
// On-disk format: hyper's header (kind "itemfilter", version 1) followed by
// the gob encoding of the configuration and of the state (n, B row-major,
// the per-item output scales, the training rows in CSR form and, when
// there is one, the iALS part's own Save output). The user-neighbour part
// has no state of its own: Fit and Load index the saved training rows by
// item; a file saved without uknn_weight loads with the part off.
package itemfilter
