// Package trainbench measures training at scale: time and peak heap of
// iALS, sparse EASE, ItemKNN and the sequence model on synthetic
// interaction sets of a chosen size (AISLE_SCALE_EVENTS), for the
// extrapolations of docs/scale.md. It holds only benchmarks:
//
//	AISLE_SCALE_EVENTS=1000000 go test ./bench/trainbench -run '^$' -bench . -benchtime 1x
package trainbench
