package pipeline

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/zoo"
)

// artifactMagic starts every stored model artefact.
var artifactMagic = []byte("AISLEMD1")

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
}

// Artifact is a trained model with its id mapping.
type Artifact struct {
	Header
	Model model.Model
}

// Encode writes the artefact: magic, header length (uint32), header JSON,
// then the model's own Save output.
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
	if err := a.Model.Save(w); err != nil {
		return fmt.Errorf("save %s: %w", a.Header.Model, err)
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
	var head [12]byte
	if _, err := io.ReadFull(r, head[:]); err != nil || !bytes.Equal(head[:len(artifactMagic)], artifactMagic) {
		return nil, errors.New("not an Aisle model artefact (bad magic)")
	}
	n := binary.LittleEndian.Uint32(head[len(artifactMagic):])
	if n > 1<<30 {
		return nil, errors.New("model artefact header too large")
	}
	h := make([]byte, n)
	if _, err := io.ReadFull(r, h); err != nil {
		return nil, errors.New("truncated model artefact header")
	}
	var a Artifact
	if err := json.Unmarshal(h, &a.Header); err != nil {
		return nil, fmt.Errorf("decode artefact header: %w", err)
	}
	m, err := zoo.New(a.Header.Model, a.Header.Params)
	if err != nil {
		return nil, err
	}
	if err := m.Load(r); err != nil {
		return nil, fmt.Errorf("load %s: %w", a.Header.Model, err)
	}
	a.Model = m
	return &a, nil
}

// DecodeArtifact reads what Encode wrote, building the model by name.
func DecodeArtifact(blob []byte) (*Artifact, error) {
	if len(blob) < len(artifactMagic)+4 || !bytes.Equal(blob[:len(artifactMagic)], artifactMagic) {
		return nil, errors.New("not an Aisle model artefact (bad magic)")
	}
	n := binary.LittleEndian.Uint32(blob[len(artifactMagic):])
	rest := blob[len(artifactMagic)+4:]
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
	if err := m.Load(bytes.NewReader(rest[n:])); err != nil {
		return nil, fmt.Errorf("load %s: %w", a.Header.Model, err)
	}
	a.Model = m
	return &a, nil
}
