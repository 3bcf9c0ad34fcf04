package recommend

import (
	"context"
	"slices"
	"testing"
)

func answerIDs(a *Answer) []string {
	ids := make([]string, len(a.Items))
	for i, it := range a.Items {
		ids[i] = it.ID
	}
	return ids
}

// Room gives more items from the same candidates: the first N are the
// answer without room, and without diversity the N+Room items are the
// answer for N+Room (the merchandising rules rely on both).
func TestRoomExtendsTheAnswer(t *testing.T) {
	st, its := fixture(t)
	svc := New(st, Config{}, nil)
	ctx := context.Background()
	if err := svc.Load(ctx); err != nil {
		t.Fatal(err)
	}
	surfaces := []struct {
		name string
		run  func(Request) (*Answer, error)
	}{
		{"popular", func(r Request) (*Answer, error) { return svc.Popular(0, r), nil }},
		{"trending", func(r Request) (*Answer, error) { return svc.Trending(r), nil }},
		{"recommend (fallbacks)", func(r Request) (*Answer, error) { return svc.Recommend(ctx, "u001", r) }},
		{"similar", func(r Request) (*Answer, error) { return svc.Similar(ctx, its[1].ID, r) }},
		{"bought together", func(r Request) (*Answer, error) { return svc.BoughtTogether(ctx, its[1].ID, r) }},
	}
	for _, sf := range surfaces {
		for _, c := range []struct {
			n, room   int
			diversity float64
		}{{5, 5, 0}, {3, 12, 0}, {1, 7, 0}, {5, 5, 0.5}, {2, 9, 0.8}} {
			plain, err := sf.run(Request{N: c.n, Diversity: c.diversity})
			if err != nil {
				t.Fatal(err)
			}
			roomy, err := sf.run(Request{N: c.n, Room: c.room, Diversity: c.diversity})
			if err != nil {
				t.Fatal(err)
			}
			p, r := answerIDs(plain), answerIDs(roomy)
			if len(p) == 0 {
				t.Fatalf("%s n=%d: empty answer", sf.name, c.n)
			}
			if len(r) < len(p) || len(r) > c.n+c.room || !slices.Equal(r[:len(p)], p) {
				t.Fatalf("%s n=%d room=%d diversity=%v: %v does not start with the plain answer %v", sf.name, c.n, c.room, c.diversity, r, p)
			}
			if c.diversity > 0 {
				continue
			}
			wide, err := sf.run(Request{N: c.n + c.room})
			if err != nil {
				t.Fatal(err)
			}
			if w := answerIDs(wide); !slices.Equal(r, w) {
				t.Fatalf("%s n=%d room=%d: %v, the answer for n=%d is %v", sf.name, c.n, c.room, r, c.n+c.room, w)
			}
		}
	}
}
