// Package searchbench compares Aisle's search index with bleve (the baseline
// of issue 6) on the same machine in the same run. It is a separate module so
// that bleve never becomes a dependency of the aisle binary.
package searchbench
