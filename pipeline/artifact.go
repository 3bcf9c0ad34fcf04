package pipeline

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/zoo"
)

// artifactMagic starts every model artefact this build writes: the
// header is plain JSON (so ids can be read and scrubbed without touching
// the model), and the model's own bytes after it are zstd-compressed.
// plainMagic starts the artefacts of earlier builds, whose model bytes are
// not compressed; they are still read.
var (
	artifactMagic = []byte("AISLEMD2")
	plainMagic    = []byte("AISLEMD1")
)

// magicLen is the length of both magics.
const magicLen = 8

// artifactKind says whether b starts with an artefact magic, and whether
// the model bytes after the header are compressed.
func artifactKind(b []byte) (ok, compressed bool) {
	switch {
	case len(b) < magicLen:
		return false, false
	case bytes.Equal(b[:magicLen], artifactMagic):
		return true, true
	case bytes.Equal(b[:magicLen], plainMagic):
		return true, false
	}
	return false, false
}

// modelReader returns the reader of the model bytes that follow the header.
func modelReader(r io.Reader, compressed bool) (io.Reader, func(), error) {
	if !compressed {
		return r, func() {}, nil
	}
	d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<36))
	if err != nil {
		return nil, nil, fmt.Errorf("model artefact: %w", err)
	}
	return d, d.Close, nil
}

// Header is the part of a model artefact that maps the model's dense
// indices back to the shop's ids.
type Header struct {
	Model   string       `json:"model"`
	Params  model.Params `json:"params,omitempty"`
	ItemIDs []string     `json:"item_ids"`
	UserIDs []string     `json:"user_ids"`
	// Weighting is how the model was fitted and how serving weighs a
	// user's history when querying it.
	Weighting Weighting `json:"weighting"`
	// Adjusted are the query-time settings (model.Adjustable) validation
	// chose; reading the artefact sets them on the model again, so a
	// restart serves what was chosen even if the model's own bytes did not
	// keep them.
	Adjusted model.Params `json:"adjusted,omitempty"`
}

// Artifact is a trained model with its id mapping.
type Artifact struct {
	Header
	Model model.Model
}

// Encode writes the artefact: magic, header length (uint32), header JSON,
// then the model's own Save output compressed with zstd (one frame).
func (a *Artifact) Encode(w io.Writer) error {
	h, err := json.Marshal(a.Header)
	if err != nil {
		return fmt.Errorf("encode artefact header: %w", err)
	}
	if _, err := w.Write(artifactMagic); err != nil {
		return err
	}
	if err := binary.Write(w, binary.LittleEndian, uint32(len(h))); err != nil {
		return err
	}
	if _, err := w.Write(h); err != nil {
		return err
	}
	z, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return err
	}
	if err := a.Model.Save(z); err != nil {
		z.Close()
		return fmt.Errorf("save %s: %w", a.Header.Model, err)
	}
	if err := z.Close(); err != nil {
		return fmt.Errorf("save %s: compress: %w", a.Header.Model, err)
	}
	return nil
}

// Bytes encodes the artefact into memory.
func (a *Artifact) Bytes() ([]byte, error) {
	var buf bytes.Buffer
	if err := a.Encode(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ReadArtifact reads what Encode wrote from a stream, building the model
// by name.
func ReadArtifact(r io.Reader) (*Artifact, error) {
	var head [magicLen + 4]byte
	_, err := io.ReadFull(r, head[:])
	ok, compressed := artifactKind(head[:])
	if err != nil || !ok {
		return nil, errors.New("not an Aisle model artefact (bad magic)")
	}
	n := binary.LittleEndian.Uint32(head[magicLen:])
	if n > 1<<30 {
		return nil, errors.New("model artefact header too large")
	}
	h, err := readHeader(r, n)
	if err != nil {
		return nil, err
	}
	var a Artifact
	if err := json.Unmarshal(h, &a.Header); err != nil {
		return nil, fmt.Errorf("decode artefact header: %w", err)
	}
	m, err := zoo.New(a.Header.Model, a.Header.Params)
	if err != nil {
		return nil, err
	}
	mr, done, err := modelReader(r, compressed)
	if err != nil {
		return nil, err
	}
	defer done()
	if err := m.Load(mr); err != nil {
		return nil, fmt.Errorf("load %s: %w", a.Header.Model, err)
	}
	if err := a.readjust(m); err != nil {
		return nil, err
	}
	a.Model = m
	return &a, nil
}

// DecodeArtifact reads what Encode wrote, building the model by name.
func DecodeArtifact(blob []byte) (*Artifact, error) {
	ok, compressed := artifactKind(blob)
	if !ok || len(blob) < magicLen+4 {
		return nil, errors.New("not an Aisle model artefact (bad magic)")
	}
	n := binary.LittleEndian.Uint32(blob[magicLen:])
	rest := blob[magicLen+4:]
	if uint64(n) > uint64(len(rest)) {
		return nil, errors.New("truncated model artefact header")
	}
	var a Artifact
	if err := json.Unmarshal(rest[:n], &a.Header); err != nil {
		return nil, fmt.Errorf("decode artefact header: %w", err)
	}
	m, err := zoo.New(a.Header.Model, a.Header.Params)
	if err != nil {
		return nil, err
	}
	mr, done, err := modelReader(bytes.NewReader(rest[n:]), compressed)
	if err != nil {
		return nil, err
	}
	defer done()
	if err := m.Load(mr); err != nil {
		return nil, fmt.Errorf("load %s: %w", a.Header.Model, err)
	}
	if err := a.readjust(m); err != nil {
		return nil, err
	}
	a.Model = m
	return &a, nil
}

// readHeader reads the n header bytes, growing the buffer as bytes arrive
// rather than trusting n up front (a corrupt length would otherwise
// allocate up to 1 GiB for a stream of a few bytes).
func readHeader(r io.Reader, n uint32) ([]byte, error) {
	h, err := io.ReadAll(io.LimitReader(r, int64(n)))
	if err != nil || len(h) != int(n) {
		return nil, errors.New("truncated model artefact header")
	}
	return h, nil
}

// readjust sets the header's query-time settings on the loaded model.
func (h *Header) readjust(m model.Model) error {
	if len(h.Adjusted) == 0 {
		return nil
	}
	if err := setAdjusted(m, h.Adjusted); err != nil {
		return fmt.Errorf("load %s: %w", h.Model, err)
	}
	return nil
}
