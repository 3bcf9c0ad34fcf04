// Package pgtest gives tests their own PostgreSQL schema: a fresh schema
// with a random name on the test server, dropped when the test ends, and a
// clear skip when no server answers.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultURL is the server tests use unless AISLE_TEST_POSTGRES names another.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// ServerURL is the URL of the test server.
func ServerURL() string {
	if u := os.Getenv("AISLE_TEST_POSTGRES"); u != "" {
		return u
	}
	return DefaultURL
}

// URL creates a new schema on the test server and returns a URL whose
// search_path selects it; the schema is dropped when tb ends. It skips tb
// when the server does not answer.
func URL(tb testing.TB) string {
	tb.Helper()
	base := ServerURL()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Skipf("PostgreSQL not reachable at %s (set AISLE_TEST_POSTGRES to a server's URL to run this test): %v", base, err)
	}
	defer conn.Close(context.Background())
	var b [6]byte
	rand.Read(b[:])
	schema := "aisle_test_" + hex.EncodeToString(b[:])
	// a loaded server (other tests dropping their schemas hold catalogue
	// locks) can take longer than the connect's 5 s to create one
	cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
	defer ccancel()
	if _, err := conn.Exec(cctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create test schema %s: %v", schema, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Errorf("drop test schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop test schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("AISLE_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
