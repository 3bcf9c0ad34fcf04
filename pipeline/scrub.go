package pipeline

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// ErrNotArtifact is returned for bytes that are not a model artefact
// (another kind of stored model, such as the search ranker).
var ErrNotArtifact = errors.New("not an Aisle model artefact (bad magic)")

// Tombstone is what a forgotten user's id becomes in a stored artefact:
// a NUL (which no user id holds) and their row, so rows stay distinct
// and nothing names them.
func Tombstone(row int) string { return "\x00" + strconv.Itoa(row) }

// IsTombstone reports whether id is a Tombstone.
func IsTombstone(id string) bool { return len(id) > 0 && id[0] == 0 }

// ArtifactUserIDs reads only the user ids of an artefact's header.
func ArtifactUserIDs(r io.Reader) ([]string, error) {
	var head [magicLen + 4]byte
	_, err := io.ReadFull(r, head[:])
	if ok, _ := artifactKind(head[:]); err != nil || !ok {
		return nil, ErrNotArtifact
	}
	n := binary.LittleEndian.Uint32(head[magicLen:])
	if n > 1<<30 {
		return nil, errors.New("model artefact header too large")
	}
	h, err := readHeader(r, n)
	if err != nil {
		return nil, err
	}
	var hd struct {
		UserIDs []string `json:"user_ids"`
	}
	if err := json.Unmarshal(h, &hd); err != nil {
		return nil, fmt.Errorf("decode artefact header: %w", err)
	}
	return hd.UserIDs, nil
}

// ScrubUsers returns blob with every user id that forget names replaced
// by its Tombstone, and how many were; the model's own bytes are copied
// unchanged. With none to replace it returns blob itself.
func ScrubUsers(blob []byte, forget func(id string) bool) ([]byte, int, error) {
	if ok, _ := artifactKind(blob); !ok || len(blob) < magicLen+4 {
		return nil, 0, ErrNotArtifact
	}
	n := binary.LittleEndian.Uint32(blob[magicLen:])
	rest := blob[magicLen+4:]
	if uint64(n) > uint64(len(rest)) {
		return nil, 0, errors.New("truncated model artefact header")
	}
	var hd map[string]json.RawMessage
	if err := json.Unmarshal(rest[:n], &hd); err != nil {
		return nil, 0, fmt.Errorf("decode artefact header: %w", err)
	}
	var users []string
	if raw, ok := hd["user_ids"]; ok {
		if err := json.Unmarshal(raw, &users); err != nil {
			return nil, 0, fmt.Errorf("decode artefact user ids: %w", err)
		}
	}
	done := 0
	for i, id := range users {
		if !IsTombstone(id) && forget(id) {
			users[i] = Tombstone(i)
			done++
		}
	}
	if done == 0 {
		return blob, 0, nil
	}
	raw, err := json.Marshal(users)
	if err != nil {
		return nil, 0, err
	}
	hd["user_ids"] = raw
	h, err := json.Marshal(hd)
	if err != nil {
		return nil, 0, err
	}
	out := make([]byte, 0, magicLen+4+len(h)+len(rest)-int(n))
	out = append(out, blob[:magicLen]...) // the model bytes are copied as they are, compressed or not
	out = binary.LittleEndian.AppendUint32(out, uint32(len(h)))
	out = append(out, h...)
	out = append(out, rest[n:]...)
	return out, done, nil
}
