// Package natstest connects tests to the NATS server with JetStream they
// run against (127.0.0.1:4222, or AISLE_TEST_NATS), skipping them with a
// clear message when there is none, and names their streams and buckets
// uniquely so that tests can run in parallel.
package natstest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// URL is the server tests use.
func URL() string {
	if u := os.Getenv("AISLE_TEST_NATS"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}

// Conn connects to the test server, or skips the test when it is absent.
// The connection is closed when the test ends.
func Conn(t testing.TB) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(URL(), nats.Timeout(2*time.Second), nats.Name("aisle test "+t.Name()))
	if err != nil {
		t.Skipf("no NATS server at %s (%v): start nats-server -js, or set AISLE_TEST_NATS, to run this test", URL(), err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Name returns prefix with a random suffix (A–Z and digits: valid as a
// stream, bucket or subject token).
func Name(prefix string) string {
	b := make([]byte, 5)
	rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}
