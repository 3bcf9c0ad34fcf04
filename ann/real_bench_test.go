package ann

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aisle-dev/aisle/internal/testdata"
	"github.com/aisle-dev/aisle/model"
	"github.com/aisle-dev/aisle/model/mf"
)

// Real learned embeddings: iALS (64 factors, default parameters) trained on
// Amazon Beauty 5-core (s3rec-sequential, 12,101 items). Queries are the sum
// of the item vectors of a user's last five items (a session query) and
// single item vectors (similar items).

var (
	realOnce sync.Once
	realDim  int
	realVecs []float32
	realQ    map[string][]float32
	realErr  error
)

func loadBeauty(path string) (*model.Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ds := &model.Dataset{UserPtr: []int{0}}
	items := map[string]int32{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		ds.UserIDs = append(ds.UserIDs, fields[0])
		for _, it := range fields[1:] {
			if _, err := strconv.Atoi(it); err != nil {
				return nil, fmt.Errorf("%s: item %q", path, it)
			}
			idx, ok := items[it]
			if !ok {
				idx = int32(len(ds.ItemIDs))
				items[it] = idx
				ds.ItemIDs = append(ds.ItemIDs, it)
			}
			ds.Items = append(ds.Items, idx)
		}
		ds.UserPtr = append(ds.UserPtr, len(ds.Items))
	}
	return ds, sc.Err()
}

func realEmbeddings(b *testing.B) (int, []float32, map[string][]float32) {
	path := testdata.Path(b, "s3rec-sequential", "Beauty.txt")
	realOnce.Do(func() {
		ds, err := loadBeauty(path)
		if err != nil {
			realErr = err
			return
		}
		m, err := mf.NewIALS(model.Params{})
		if err != nil {
			realErr = err
			return
		}
		if err := m.Fit(context.Background(), ds, nil); err != nil {
			realErr = err
			return
		}
		realDim, realVecs = m.ItemVectors()
		realQ = map[string][]float32{}
		d := realDim
		for u := 0; u < ds.NumUsers() && u < 20000; u += 100 { // 200 users
			row := ds.Row(u)
			q := make([]float32, d)
			for _, it := range row[max(0, len(row)-5):] {
				for j := 0; j < d; j++ {
					q[j] += realVecs[int(it)*d+j]
				}
			}
			realQ["session"] = append(realQ["session"], q...)
		}
		for i := 0; i < 200; i++ {
			it := (i * 61) % ds.NumItems()
			realQ["item"] = append(realQ["item"], realVecs[it*d:(it+1)*d]...)
		}
	})
	if realErr != nil {
		b.Fatal(realErr)
	}
	return realDim, realVecs, realQ
}

// BenchmarkIVFRealEmbeddings reports recall@10 of IVF (√n = 110 lists)
// against the exact scan on learned item vectors.
func BenchmarkIVFRealEmbeddings(b *testing.B) {
	dim, vecs, queries := realEmbeddings(b)
	x, err := BuildIVF(context.Background(), dim, vecs, IVFOptions{Seed: 1}, nil)
	if err != nil {
		b.Fatal(err)
	}
	f, _ := NewFlat(dim, vecs)
	for _, kind := range []string{"session", "item"} {
		qs := queries[kind]
		nq := len(qs) / dim
		var exact [][]Hit
		for j := 0; j < nq; j++ {
			exact = append(exact, f.Search(qs[j*dim:(j+1)*dim], 10, nil))
		}
		for _, nprobe := range []int{1, 4, 8, 16, 24} {
			b.Run(fmt.Sprintf("%s/lists=%d/nprobe=%d", kind, x.Lists(), nprobe), func(b *testing.B) {
				var approx [][]Hit
				for j := 0; j < nq; j++ {
					approx = append(approx, x.SearchProbe(qs[j*dim:(j+1)*dim], 10, nprobe, nil))
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					j := i % nq
					x.SearchProbe(qs[j*dim:(j+1)*dim], 10, nprobe, nil)
				}
				b.StopTimer()
				b.ReportMetric(recallAt(exact, approx), "recall@10")
			})
		}
	}
}
