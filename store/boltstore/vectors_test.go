package boltstore

import (
	"context"
	"crypto/sha256"
	"slices"
	"testing"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/store"
)

func TestVectors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	items := []catalog.Item{{ID: "a", Title: "a", Available: true}, {ID: "b", Title: "b", Available: true}}
	if err := s.PutItems(ctx, items); err != nil {
		t.Fatal(err)
	}
	va := store.ItemVector{ItemID: "a", TextHash: sha256.Sum256([]byte("a")), Vec: []float32{1, -2.5, 3}}
	vb := store.ItemVector{ItemID: "b", TextHash: sha256.Sum256([]byte("b")), Vec: []float32{0, 1, 0}}
	ghost := store.ItemVector{ItemID: "ghost", Vec: []float32{1, 1, 1}} // not in the catalogue: skipped
	if err := s.PutVectors(ctx, "m/3", []store.ItemVector{va, vb, ghost}); err != nil {
		t.Fatal(err)
	}
	other := store.ItemVector{ItemID: "a", Vec: []float32{9, 9}}
	if err := s.PutVectors(ctx, "n/2", []store.ItemVector{other}); err != nil {
		t.Fatal(err)
	}
	// survives reopening
	s.Close()
	if s, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	tests := []struct {
		name  string
		space string
		ids   []string
		want  []store.ItemVector
	}{
		{"both", "m/3", []string{"b", "a"}, []store.ItemVector{vb, va}},
		{"missing and skipped", "m/3", []string{"x", "ghost", ""}, []store.ItemVector{{ItemID: "x"}, {ItemID: "ghost"}, {}}},
		{"spaces do not mix", "n/2", []string{"a", "b"}, []store.ItemVector{other, {ItemID: "b"}}},
		{"unknown space", "z/1", []string{"a"}, []store.ItemVector{{ItemID: "a"}}},
	}
	for _, tc := range tests {
		got, err := s.GetVectors(ctx, tc.space, tc.ids)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !equalVectors(got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}

	// deleting the item deletes its vectors in every space
	if err := s.DeleteItem(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	for _, space := range []string{"m/3", "n/2"} {
		got, err := s.GetVectors(ctx, space, []string{"a"})
		if err != nil {
			t.Fatal(err)
		}
		if got[0].Vec != nil {
			t.Errorf("space %s: vector of deleted item kept: %v", space, got[0].Vec)
		}
	}
	if err := s.DeleteVectors(ctx, []string{"b"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetVectors(ctx, "m/3", []string{"b"}); got[0].Vec != nil {
		t.Errorf("DeleteVectors kept %v", got[0].Vec)
	}
	if _, err := s.GetItem(ctx, "b"); err != nil {
		t.Errorf("DeleteVectors removed the item: %v", err)
	}
	if err := s.PutVectors(ctx, "", []store.ItemVector{vb}); err == nil {
		t.Error("empty space name accepted")
	}
}

func equalVectors(a, b []store.ItemVector) bool {
	return slices.EqualFunc(a, b, func(x, y store.ItemVector) bool {
		return x.ItemID == y.ItemID && x.TextHash == y.TextHash && slices.Equal(x.Vec, y.Vec)
	})
}

func TestDecodeVectorRejectsCorrupt(t *testing.T) {
	for _, n := range []int{0, 31, 33, 34, 35} {
		if _, err := decodeVector("x", make([]byte, n)); err == nil {
			t.Errorf("%d bytes accepted", n)
		}
	}
	if v, err := decodeVector("x", make([]byte, 32+8)); err != nil || len(v.Vec) != 2 {
		t.Errorf("40 bytes: %v %v", v, err)
	}
}
