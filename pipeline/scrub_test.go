package pipeline

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
)

func TestScrubUsers(t *testing.T) {
	h := []byte(`{"model":"ials","params":{"factors":64},"item_ids":["i1"],"user_ids":["ann","bob","cy"],"weighting":{}}`)
	tail := []byte{1, 2, 3, 0, 255}
	blob := append(append(binary.LittleEndian.AppendUint32(append([]byte(nil), artifactMagic...), uint32(len(h))), h...), tail...)
	out, n, err := ScrubUsers(blob, func(id string) bool { return id == "bob" || id == "zed" })
	if err != nil || n != 1 {
		t.Fatal(n, err)
	}
	if !bytes.HasSuffix(out, tail) || bytes.Contains(out, []byte("bob")) {
		t.Fatalf("scrubbed blob %q", out)
	}
	ids, err := ArtifactUserIDs(bytes.NewReader(out))
	if err != nil || !slices.Equal(ids, []string{"ann", Tombstone(1), "cy"}) || !IsTombstone(ids[1]) {
		t.Fatalf("ids %q %v", ids, err)
	}
	if again, n, _ := ScrubUsers(out, func(string) bool { return true }); n != 2 || bytes.Contains(again, []byte(`"ann"`)) {
		t.Fatalf("a tombstone was scrubbed again or ann kept: %d", n)
	}
	if same, n, _ := ScrubUsers(blob, func(string) bool { return false }); n != 0 || &same[0] != &blob[0] {
		t.Fatal("nothing to scrub still copied the blob")
	}
	if _, _, err := ScrubUsers([]byte("search ranker bytes"), func(string) bool { return true }); !errors.Is(err, ErrNotArtifact) {
		t.Fatalf("not an artefact: %v", err)
	}
}

// Any bytes as a stored artefact: scrubbing and reading the user ids
// return (an error or a result), never panic, and a scrubbed artefact
// reads back.
func FuzzScrubUsers(f *testing.F) {
	h := []byte(`{"model":"ials","user_ids":["ann","bob"]}`)
	f.Add(append(append(binary.LittleEndian.AppendUint32(append([]byte(nil), artifactMagic...), uint32(len(h))), h...), 9, 9))
	f.Add([]byte("AISLEMD1\xff\xff\xff\xff"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, blob []byte) {
		ArtifactUserIDs(bytes.NewReader(blob))
		out, n, err := ScrubUsers(blob, func(id string) bool { return id == "bob" })
		if err != nil || n == 0 {
			return
		}
		ids, err := ArtifactUserIDs(bytes.NewReader(out))
		if err != nil || slices.Contains(ids, "bob") {
			t.Fatalf("scrubbed artefact reads back %q, %v", ids, err)
		}
	})
}
