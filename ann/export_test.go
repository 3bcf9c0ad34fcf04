package ann

// RecallAt is recallAt for the external benchmarks (package ann_test,
// which may import packages that import ann).
var RecallAt = recallAt
