package ease

import (
	"bytes"
	"context"
	"testing"

	"github.com/aisle-dev/aisle/model"
)

// FuzzLoad: Load of arbitrary bytes either fails or yields a model whose
// Score and Similar do not panic.
func FuzzLoad(f *testing.F) {
	ds := &model.Dataset{ItemIDs: []string{"a", "b", "c"}, UserIDs: []string{"u", "v"},
		UserPtr: []int{0, 2, 3}, Items: []int32{0, 1, 2}}
	m, _ := New(nil)
	if err := m.Fit(context.Background(), ds, nil); err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	sp, _ := New(model.Params{"max_items": 1, "neighbours": 2})
	if err := sp.Fit(context.Background(), ds, nil); err != nil {
		f.Fatal(err)
	}
	buf.Reset()
	if err := sp.Save(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var m EASE
		if m.Load(bytes.NewReader(data)) != nil {
			return
		}
		s := make([]float32, m.st.N)
		m.Score(model.Query{User: 0}, s)
		m.Score(model.Query{User: -1, History: []int32{0, 5, -1}}, s)
		m.Similar(0, s)
	})
}
