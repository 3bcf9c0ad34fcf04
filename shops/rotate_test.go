package shops_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// POST /api/shops/{shop}/keys/{id}/rotate over real HTTP: the answer has
// a new key with the same shop and scopes, its secret shown only there;
// the old secret is refused at once and the new one opens what the old
// did; only the operator or the shop's admin key may rotate.
func TestRotateKeyOverAPI(t *testing.T) {
	s := start(t, testConfig(t.TempDir()))
	s.must(201, "POST", "/api/shops", opKey, `{"id":"acme"}`)
	s.must(201, "POST", "/api/shops", opKey, `{"id":"other"}`)
	type key struct {
		ID, Key, Shop, Rotated string
		Scopes                 []string
	}
	newKey := func(shop, scopes string) key {
		var k key
		if err := json.Unmarshal(s.must(201, "POST", "/api/shops/"+shop+"/keys", opKey, `{"scopes":`+scopes+`}`), &k); err != nil {
			t.Fatal(err)
		}
		return k
	}
	rw, admin, otherAdmin := newKey("acme", `["read","write"]`), newKey("acme", `["admin"]`), newKey("other", `["admin"]`)

	// refusals first: none of them rotates anything
	for _, c := range []struct {
		name, path, key string
		want            int
	}{
		{"no key", "/api/shops/acme/keys/" + rw.ID + "/rotate", "", 401},
		{"wrong operator key", "/api/shops/acme/keys/" + rw.ID + "/rotate", "not-the-key", 401},
		{"the key's own read and write scopes", "/api/shops/acme/keys/" + rw.ID + "/rotate", rw.Key, 403},
		{"another shop's admin key", "/api/shops/acme/keys/" + rw.ID + "/rotate", otherAdmin.Key, 403},
		{"the key under another shop", "/api/shops/other/keys/" + rw.ID + "/rotate", opKey, 404},
		{"no such key", "/api/shops/acme/keys/0123456789ab/rotate", opKey, 404},
		{"no such shop", "/api/shops/nope/keys/" + rw.ID + "/rotate", opKey, 404},
		{"a longer path", "/api/shops/acme/keys/" + rw.ID + "/x/rotate", opKey, 404},
	} {
		if code, b := s.do("POST", c.path, c.key, ""); code != c.want {
			t.Errorf("%s: POST %s: %d %.200s, want %d", c.name, c.path, code, b, c.want)
		}
	}
	s.must(200, "GET", "/api/shops/acme/users", rw.Key, "")

	// the shop's admin key rotates the read-write key, the operator the
	// admin key itself
	for _, c := range []struct {
		name   string
		old    key
		caller string
		opens  string
	}{
		{"by the shop's admin key", rw, admin.Key, "/api/shops/acme/users"},
		{"by the operator", admin, opKey, "/api/shops/acme/keys"},
	} {
		var k key
		if err := json.Unmarshal(s.must(200, "POST", "/api/shops/acme/keys/"+c.old.ID+"/rotate", c.caller, ""), &k); err != nil {
			t.Fatal(err)
		}
		if k.ID == c.old.ID || k.Rotated != c.old.ID || k.Shop != "acme" || !slices.Equal(k.Scopes, c.old.Scopes) ||
			!strings.HasPrefix(k.Key, "aisle_sk_"+k.ID+"_") || k.Key == c.old.Key {
			t.Errorf("%s: rotated %+v from %+v: want a new id and secret, same shop and scopes", c.name, k, c.old)
		}
		if code, b := s.do("GET", c.opens, c.old.Key, ""); code != 401 {
			t.Errorf("%s: the old secret on GET %s: %d %.200s, want 401", c.name, c.opens, code, b)
		}
		s.must(200, "GET", c.opens, k.Key, "")
		list := string(s.must(200, "GET", "/api/shops/acme/keys", opKey, ""))
		secret := strings.TrimPrefix(k.Key, "aisle_sk_"+k.ID+"_")
		if !strings.Contains(list, `"`+k.ID+`"`) || strings.Contains(list, `"`+c.old.ID+`"`) || strings.Contains(list, secret) {
			t.Errorf("%s: key list %s: want the new id, not the old one nor the secret", c.name, list)
		}
		if code, b := s.do("POST", "/api/shops/acme/keys/"+c.old.ID+"/rotate", opKey, ""); code != 404 {
			t.Errorf("%s: rotating the old key again: %d %.200s, want 404", c.name, code, b)
		}
	}
}
