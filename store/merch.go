package store

import "context"

// MerchTx is one transaction over the merchandising records (rules,
// campaigns, the ad spend ledger and impressions): named buckets of keys
// and byte values. Keys sort byte-wise within a bucket.
type MerchTx interface {
	// Get returns a copy of the value of key in bucket, nil when absent.
	Get(bucket, key string) []byte
	// Put stores value under key in bucket (created when needed).
	Put(bucket, key string, value []byte) error
	// Delete removes key from bucket; absent keys are no error.
	Delete(bucket, key string) error
	// Scan calls fn for every key of bucket starting with prefix, in key
	// order, stopping at fn's first error; value is valid only during fn.
	Scan(bucket, prefix string, fn func(key string, value []byte) error) error
}

// Merch keeps the merchandising records. MerchUpdate runs fn in one
// atomic, durable, serialised transaction: every write of fn is stored,
// or none, and no other MerchUpdate sees a state in between (the spend
// ledger relies on this to charge each click once and never past a
// budget). A networked store must serialise the same way across replicas
// (PostgreSQL: one table merch(bucket, key, value) and SERIALIZABLE
// transactions, or a row lock on the bucket's spend rows; see
// docs/merchandising.md).
type Merch interface {
	MerchView(ctx context.Context, fn func(MerchTx) error) error
	MerchUpdate(ctx context.Context, fn func(MerchTx) error) error
}
