package search

import (
	"github.com/aisle-dev/aisle/ann"
	"sort"
	"strconv"
	"strings"

	"github.com/aisle-dev/aisle/catalog"
	"github.com/aisle-dev/aisle/search/analysis"
)

// analysed is an item's analysis, computed before the write lock is taken.
type analysed struct {
	fields [numFields][]string
	words  []string
	vec    []float32 // unit length, as embedded or stored
	vhash  [32]byte
	vtext  string
	// saved, when set, is the item's analysis read back from the saved
	// keyword index (from maps its ids), used instead of fields and words;
	// code is its saved vector code (Len 0: none, vec is used)
	saved *savedDoc
	from  *kwReader
	code  ann.Code
}

// nterms is the number of analysed terms of field f.
func (a *analysed) nterms(f Field) int {
	if a.saved != nil {
		return len(a.saved.fields[f])
	}
	return len(a.fields[f])
}

func fieldTexts(it *catalog.Item) [numFields]string {
	var t [numFields]string
	t[FieldTitle] = it.Title
	t[FieldBrand] = it.Brand
	cats := make([]string, len(it.Categories))
	for i, c := range it.Categories {
		cats[i] = strings.ReplaceAll(c, "/", " | ")
	}
	t[FieldCategories] = strings.Join(cats, " | ")
	if len(it.Attributes) > 0 {
		keys := make([]string, 0, len(it.Attributes))
		for k := range it.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			switch v := it.Attributes[k].(type) {
			case string:
				b.WriteString(v)
			case float64:
				b.WriteString(strconv.FormatFloat(v, 'f', -1, 64))
			case []any:
				for _, e := range v {
					if s, ok := e.(string); ok {
						b.WriteString(s)
						b.WriteString(" | ")
					}
				}
			}
			b.WriteString(" | ")
		}
		t[FieldAttributes] = b.String()
	}
	t[FieldDescription] = it.Description
	return t
}

// embedText is what the Embedder sees of an item.
func embedText(it *catalog.Item) string {
	s := it.Title
	if it.Brand != "" {
		s += " " + it.Brand
	}
	if it.Description != "" {
		s += ". " + analysis.Truncate(it.Description, 400)
	}
	return s
}
