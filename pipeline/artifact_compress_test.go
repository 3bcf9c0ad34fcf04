package pipeline

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/knn"
	"github.com/aisle-dev/aisle/model/modeltest"
)

// TestArtifactCompressed: Encode compresses the model bytes, both readers
// give back the same scores, the ids stay readable and scrubbable, and an
// artefact of an earlier build (plain model bytes) still loads.
func TestArtifactCompressed(t *testing.T) {
	s := modeltest.Synthetic()
	m, err := knn.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	modeltest.Fit(t, m, s.DS)
	a := &Artifact{Header: Header{Model: knn.Name, ItemIDs: s.DS.ItemIDs, UserIDs: s.DS.UserIDs}, Model: m}
	blob, err := a.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	var plain bytes.Buffer
	if err := m.Save(&plain); err != nil {
		t.Fatal(err)
	}
	h, _ := json.Marshal(a.Header)
	old := append(binary.LittleEndian.AppendUint32(append([]byte(nil), plainMagic...), uint32(len(h))), h...)
	old = append(old, plain.Bytes()...)
	if len(blob) >= len(old) {
		t.Errorf("compressed artefact %d bytes, plain %d", len(blob), len(old))
	}
	want := make([]float32, s.DS.NumItems())
	m.Score(model.Query{User: 3}, want)
	got := make([]float32, len(want))
	for name, b := range map[string][]byte{"compressed": blob, "plain": old} {
		for reader, read := range map[string]func([]byte) (*Artifact, error){
			"DecodeArtifact": DecodeArtifact,
			"ReadArtifact":   func(b []byte) (*Artifact, error) { return ReadArtifact(bytes.NewReader(b)) },
		} {
			back, err := read(b)
			if err != nil {
				t.Fatalf("%s %s: %v", name, reader, err)
			}
			back.Model.Score(model.Query{User: 3}, got)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%s %s: score[%d] = %v, want %v", name, reader, i, got[i], want[i])
				}
			}
		}
		ids, err := ArtifactUserIDs(bytes.NewReader(b))
		if err != nil || len(ids) != s.DS.NumUsers() {
			t.Fatalf("%s: ArtifactUserIDs = %d ids, %v", name, len(ids), err)
		}
		scrubbed, n, err := ScrubUsers(b, func(id string) bool { return id == s.DS.UserIDs[0] })
		if err != nil || n != 1 {
			t.Fatalf("%s: ScrubUsers = %d, %v", name, n, err)
		}
		back, err := DecodeArtifact(scrubbed)
		if err != nil {
			t.Fatalf("%s: decode scrubbed: %v", name, err)
		}
		if !IsTombstone(back.UserIDs[0]) {
			t.Fatalf("%s: user 0 is %q after scrubbing", name, back.UserIDs[0])
		}
	}
	// A corrupt compressed body fails instead of loading.
	bad := append([]byte(nil), blob...)
	for i := len(bad) - 40; i < len(bad); i++ {
		bad[i] ^= 0x5a
	}
	if _, err := DecodeArtifact(bad); err == nil {
		t.Error("a corrupted compressed artefact loaded")
	}
}

// FuzzDecodeArtifact: arbitrary bytes (a restored backup, a corrupt store)
// either fail to decode or give a model; they never panic.
func FuzzDecodeArtifact(f *testing.F) {
	ds := &model.Dataset{ItemIDs: []string{"a", "b", "c"}, UserIDs: []string{"u", "v"},
		UserPtr: []int{0, 2, 3}, Items: []int32{0, 1, 2}}
	m, _ := knn.New(nil)
	if err := m.Fit(f.Context(), ds, nil); err != nil {
		f.Fatal(err)
	}
	blob, err := (&Artifact{Header: Header{Model: knn.Name, ItemIDs: ds.ItemIDs, UserIDs: ds.UserIDs}, Model: m}).Bytes()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(blob)
	f.Add(blob[:len(blob)-3])
	f.Add([]byte("AISLEMD2\x02\x00\x00\x00{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := DecodeArtifact(data)
		b, err2 := ReadArtifact(bytes.NewReader(data))
		if (err == nil) != (err2 == nil) {
			t.Fatalf("DecodeArtifact error %v, ReadArtifact error %v", err, err2)
		}
		if err == nil && (a.Model == nil || b.Model == nil) {
			t.Fatal("decoded an artefact without a model")
		}
	})
}
