package recommend

import (
	"math"
	"strings"
	"unicode"
)

// contentIndex finds items with similar text (TF-IDF cosine over title,
// brand and categories). It serves items that have no interactions yet.
type contentIndex struct {
	vecs     [][]termWeight // per item, L2-normalised, nil for deleted items
	postings map[string][]posting
	version  int
}

type termWeight struct {
	term string
	w    float32
}

type posting struct {
	item int32
	w    float32
}

// maxTermsPerItem bounds the terms kept per item (the strongest by TF-IDF).
const maxTermsPerItem = 24

var stopWords = map[string]bool{"a": true, "an": true, "and": true, "the": true, "of": true, "for": true, "with": true, "in": true, "on": true, "to": true, "by": true, "or": true, "x": true, "pack": true, "inch": true, "inches": true}

func tokens(s string) []string {
	f := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	out := f[:0]
	for _, t := range f {
		if len(t) >= 2 && !stopWords[t] {
			out = append(out, t)
		}
	}
	return out
}

func itemText(it *itemInfo) string {
	return it.title + " " + it.brand + " " + strings.ReplaceAll(strings.Join(it.categories, " "), "/", " ")
}

func buildContent(info []itemInfo, version int) *contentIndex {
	df := map[string]int{}
	tfs := make([]map[string]int, len(info))
	n := 0
	for i := range info {
		if info[i].deleted {
			continue
		}
		n++
		tf := map[string]int{}
		for _, t := range tokens(itemText(&info[i])) {
			tf[t]++
		}
		for t := range tf {
			df[t]++
		}
		tfs[i] = tf
	}
	ci := &contentIndex{vecs: make([][]termWeight, len(info)), postings: map[string][]posting{}, version: version}
	for i, tf := range tfs {
		if tf == nil {
			continue
		}
		var v []termWeight
		var norm float64
		for t, c := range tf {
			w := (1 + math.Log(float64(c))) * math.Log(1+float64(n)/float64(df[t]))
			v = append(v, termWeight{t, float32(w)})
			norm += w * w
		}
		sortTerms(v)
		if len(v) > maxTermsPerItem {
			v = v[:maxTermsPerItem]
		}
		norm = math.Sqrt(norm)
		for k := range v {
			v[k].w = float32(float64(v[k].w) / norm)
			ci.postings[v[k].term] = append(ci.postings[v[k].term], posting{int32(i), v[k].w})
		}
		ci.vecs[i] = v
	}
	return ci
}

func sortTerms(v []termWeight) {
	// insertion sort is fine: items have few distinct terms
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && (v[j].w > v[j-1].w || (v[j].w == v[j-1].w && v[j].term < v[j-1].term)); j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}

// similar accumulates cosine similarity to item into scores.
func (ci *contentIndex) similar(item int32, scores []float32) {
	if int(item) >= len(ci.vecs) {
		return
	}
	for _, tw := range ci.vecs[item] {
		for _, p := range ci.postings[tw.term] {
			if int(p.item) < len(scores) {
				scores[p.item] += tw.w * p.w
			}
		}
	}
	if int(item) < len(scores) {
		scores[item] = 0
	}
}
