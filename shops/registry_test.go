package shops

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func openTestRegistry(t testing.TB) *Registry {
	t.Helper()
	r, err := OpenRegistry(filepath.Join(t.TempDir(), "shops.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestValidID(t *testing.T) {
	for _, c := range []struct {
		id string
		ok bool
	}{
		{"acme", true}, {"a", true}, {"0shop", true}, {"gift-shop-2", true}, {strings.Repeat("a", 32), true},
		{"", false}, {"-a", false}, {"Acme", false}, {"a_b", false}, {"a.b", false}, {"a/b", false},
		{strings.Repeat("a", 33), false}, {"ä", false}, {"..", false}, {"a b", false},
	} {
		if err := ValidID(c.id); (err == nil) != c.ok {
			t.Errorf("ValidID(%q) = %v, want ok=%v", c.id, err, c.ok)
		}
	}
}

// Keys survive a reopen as hashes only; Verify accepts exactly the
// issued secret; revoking is durable.
func TestRegistryKeysDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shops.db")
	r, err := OpenRegistry(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := r.Create("acme", Settings{MaxEvents: 5}, now); err != nil {
		t.Fatal(err)
	}
	k1, s1, err := r.NewKey("acme", []Scope{ScopeRead, ScopeRead, ScopeWrite}, now)
	if err != nil || len(k1.Scopes) != 2 {
		t.Fatalf("NewKey: %+v %v (want duplicate scopes merged)", k1, err)
	}
	k2, s2, _ := r.NewKey("acme", []Scope{ScopePublic}, now)
	if _, _, err := r.NewKey("acme", []Scope{"root"}, now); err == nil {
		t.Error("an unknown scope was accepted")
	}
	if _, _, err := r.NewKey("nope", []Scope{ScopeRead}, now); err == nil {
		t.Error("a key for an unknown shop was made")
	}
	r.Close()
	r, err = OpenRegistry(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if k, ok := r.Verify(s1); !ok || k.ID != k1.ID || k.Hash != "" {
		t.Errorf("Verify the first key after reopening: %+v %v", k, ok)
	}
	for _, bad := range []string{s1 + "x", s1[:len(s1)-1], strings.Replace(s1, k1.ID, k2.ID, 1), "aisle_sk_", "aisle_sk_" + k1.ID, ""} {
		if _, ok := r.Verify(bad); ok {
			t.Errorf("Verify(%q) accepted", bad)
		}
	}
	b, _ := json.Marshal(r.Keys("acme"))
	if strings.Contains(string(b), "hash") || strings.Contains(string(b), strings.TrimPrefix(s1, "aisle_sk_"+k1.ID+"_")) {
		t.Errorf("Keys shows secrets or hashes: %s", b)
	}
	if err := r.Revoke("acme", k2.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Verify(s2); ok {
		t.Error("a revoked key verifies")
	}
	if n, err := r.Delete("acme"); err != nil || n != 1 {
		t.Errorf("Delete: %d keys, %v; want 1", n, err)
	}
	if _, ok := r.Verify(s1); ok {
		t.Error("a deleted shop's key verifies")
	}
}

func TestKeyAllows(t *testing.T) {
	for _, c := range []struct {
		scopes []Scope
		need   Scope
		ok     bool
	}{
		{[]Scope{ScopePublic}, ScopePublic, true}, {[]Scope{ScopePublic}, ScopeRead, false},
		{[]Scope{ScopeRead}, ScopePublic, true}, {[]Scope{ScopeRead}, ScopeWrite, false},
		{[]Scope{ScopeWrite}, ScopePublic, false}, {[]Scope{ScopeWrite}, ScopeWrite, true},
		{[]Scope{ScopeAdmin}, ScopeWrite, true}, {[]Scope{ScopeRead, ScopeWrite}, ScopeAdmin, false},
	} {
		k := Key{Scopes: c.scopes}
		if k.Allows(c.need) != c.ok {
			t.Errorf("%v allows %s: want %v", c.scopes, c.need, c.ok)
		}
	}
}

// Verify reads a header from anyone: it never panics and accepts only an
// issued key.
func FuzzVerify(f *testing.F) {
	r := openTestRegistry(f)
	r.Create("acme", Settings{}, time.Now())
	_, secret, _ := r.NewKey("acme", []Scope{ScopeAdmin}, time.Now())
	for _, s := range []string{secret, "aisle_sk_", "aisle_sk_x_y", "aisle_sk__", "", "Bearer x", secret[:20]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sent string) {
		if k, ok := r.Verify(sent); ok && sent != secret {
			t.Fatalf("Verify(%q) accepted as %+v", sent, k)
		}
	})
}

// The settings a client sends decode strictly and validate without
// panicking; what validates has no negative limit.
func FuzzShopSettings(f *testing.F) {
	for _, s := range []string{`{"id":"a"}`, `{"id":"a","rate_limit":2,"max_events":10,"allowed_origins":["https://x.example"]}`, `{"rate_limit":-1}`, `{"allowed_origins":["x/"]}`, `[]`, `null`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var in struct {
			ID string `json:"id"`
			Settings
		}
		dec := json.NewDecoder(strings.NewReader(body))
		dec.DisallowUnknownFields()
		if dec.Decode(&in) != nil {
			return
		}
		if in.Settings.Validate() == nil && (in.RateLimit < 0 || in.RateBurst < 0 || in.MaxEvents < 0) {
			t.Fatalf("%s validated with a negative limit", body)
		}
		ValidID(in.ID)
	})
}
