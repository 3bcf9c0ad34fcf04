package popular

import (
	"bytes"
	"context"
	"testing"

	"github.com/aisle-dev/aisle/model"
)

// FuzzLoad: Load of arbitrary bytes either fails or yields a model whose
// Score does not panic.
func FuzzLoad(f *testing.F) {
	ds := &model.Dataset{ItemIDs: []string{"a", "b"}, UserIDs: []string{"u"}, UserPtr: []int{0, 2}, Items: []int32{0, 1}}
	m, _ := New(nil)
	if err := m.Fit(context.Background(), ds, nil); err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		var m Popular
		if m.Load(bytes.NewReader(data)) == nil {
			m.Score(model.Query{User: -1}, make([]float32, len(m.state.Scores)))
		}
	})
}
