// Package linalg is the dense linear algebra of the closed-form item
// models (ease, itemfilter): the inverse of a symmetric positive definite
// n×n matrix with n up to tens of thousands.
package linalg
