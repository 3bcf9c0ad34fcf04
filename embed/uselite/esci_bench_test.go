package uselite

import (
	"archive/zip"
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/embed"
	"github.com/aisle-dev/aisle/internal/testdata"
)

// BenchmarkESCIDense measures USE-lite dense retrieval on ESCI-US 150, the
// baseline of issue 6: every product embedded from title + brand + bullet
// points (whitespace collapsed to single spaces), every query embedded,
// exact cosine over the whole catalogue, nDCG@10 with gains rating/100
// (Exact 1, Substitute 0.1, Complement 0.01) against the ideal ordering of
// all judged products, on all 150 queries and on the test split (every
// third query of esci_us_queryset.json, from the first). One op embeds the
// whole catalogue, so run it with -benchtime 1x.
func BenchmarkESCIDense(b *testing.B) {
	dir := testdata.Path(b, "esci-us-150")
	ids, docs := esciDocs(b, dir+"/esci_us_ecommerce_shrunk.ndjson.zip")
	queries, judged := esciJudgments(b, dir)
	enc := encoder(b)
	ctx := context.Background()
	for b.Loop() {
		dv, err := enc.Embed(ctx, docs)
		if err != nil {
			b.Fatal(err)
		}
		qv, err := enc.Embed(ctx, queries)
		if err != nil {
			b.Fatal(err)
		}
		var all, test, recall float64
		for qi, q := range queries {
			type hit struct {
				id    string
				score float32
			}
			hits := make([]hit, len(dv))
			for d, v := range dv {
				hits[d] = hit{ids[d], embed.Dot(qv[qi], v)}
			}
			slices.SortFunc(hits, func(x, y hit) int { return cmp.Compare(y.score, x.score) })
			gains := judged[q]
			var dcg, idcg float64
			var ideal []float64
			relevant, found := 0, 0
			for _, g := range gains {
				ideal = append(ideal, g)
				if g > 0 {
					relevant++
				}
			}
			slices.SortFunc(ideal, func(x, y float64) int { return cmp.Compare(y, x) })
			for i := 0; i < 10 && i < len(hits); i++ {
				g := gains[hits[i].id]
				dcg += g / math.Log2(float64(i+2))
				if g > 0 {
					found++
				}
				if i < len(ideal) {
					idcg += ideal[i] / math.Log2(float64(i+2))
				}
			}
			ndcg := 0.0
			if idcg > 0 {
				ndcg = dcg / idcg
			}
			all += ndcg
			if qi%3 == 0 {
				test += ndcg
			}
			if relevant > 0 {
				recall += float64(found) / float64(relevant)
			}
		}
		n := float64(len(queries))
		b.ReportMetric(all/n, "nDCG@10-all")
		b.ReportMetric(test/float64((len(queries)+2)/3), "nDCG@10-test")
		b.ReportMetric(recall/n, "Recall@10")
	}
}

func esciDocs(b *testing.B, path string) (ids, docs []string) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		b.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(rc)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var p struct {
				ASIN    string `json:"asin"`
				Title   string `json:"title"`
				Brand   string `json:"brand"`
				Bullets string `json:"bullet_points"`
			}
			if json.Unmarshal(sc.Bytes(), &p) != nil || p.ASIN == "" {
				continue
			}
			ids = append(ids, p.ASIN)
			docs = append(docs, strings.Join(strings.Fields(p.Title+" "+p.Brand+" "+p.Bullets), " "))
		}
		rc.Close()
	}
	return ids, docs
}

func esciJudgments(b *testing.B, dir string) (queries []string, judged map[string]map[string]float64) {
	var qs struct {
		Queries []struct {
			Text string `json:"queryText"`
		} `json:"querySetQueries"`
	}
	var js struct {
		Ratings []struct {
			Query   string `json:"query"`
			Ratings []struct {
				DocID  string `json:"docId"`
				Rating string `json:"rating"`
			} `json:"ratings"`
		} `json:"judgmentRatings"`
	}
	for name, v := range map[string]any{"esci_us_queryset.json": &qs, "esci_us_judgments.json": &js} {
		data, err := os.ReadFile(dir + "/" + name)
		if err != nil {
			b.Fatal(err)
		}
		if err := json.Unmarshal(data, v); err != nil {
			b.Fatal(err)
		}
	}
	judged = map[string]map[string]float64{}
	for _, j := range js.Ratings {
		m := map[string]float64{}
		for _, r := range j.Ratings {
			g, err := strconv.ParseFloat(r.Rating, 64)
			if err != nil {
				b.Fatal(err)
			}
			m[r.DocID] = g / 100
		}
		judged[j.Query] = m
	}
	for _, q := range qs.Queries {
		queries = append(queries, q.Text)
	}
	return queries, judged
}
