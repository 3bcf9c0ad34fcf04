package assistant

import (
	"context"
	"runtime"
	"slices"
	"testing"
	"time"
)

// benchConversations are the turns the latency benchmark replays:
// single- and multi-turn, English and Chinese.
var benchConversations = [][]string{
	{"I need a stapler under $30", "only Swingline", "show the second one"},
	{"laser printers from HP", "cheapest", "what about in black?", "compare the first two"},
	{"我想要兄弟的标签机", "第二个", "便宜一点"},
	{"500元以下的打印机，不要三星", "只要惠普"},
	{"best rated shredder", "not Fellowes", "similar to the first one"},
	{"fountain pens", "only Lamy"},
	{"mouse pads", "in blue"},
	{"hello"},
	// as shoppers type: misspelt, other currencies, impossible asks
	{"need a new staplr under 20 quid", "hmm, any from bostitch instead?", "the last one"},
	{"a coffee machine", "calulator around $15", "only casio"},
	{"预算200块，想要一台喷墨打印机", "不要惠普的"},
}

// BenchmarkTurn is the built-in understanding's latency per turn over
// the demo catalogue (no recommender: search only), with p50 and p99.
func BenchmarkTurn(b *testing.B) {
	a := newDemoAssistant(b)
	ctx := context.Background()
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		conv := benchConversations[i%len(benchConversations)]
		id := ""
		for _, m := range conv {
			start := time.Now()
			ans, err := a.Turn(ctx, Request{ConversationID: id, Message: m}, nil)
			lat = append(lat, time.Since(start))
			if err != nil {
				b.Fatal(err)
			}
			id = ans.ConversationID
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms/turn")
	b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99-ms/turn")
}

// BenchmarkParse is the parser alone.
func BenchmarkParse(b *testing.B) {
	v := demoVocab(b)
	msgs := []string{"I need a stapler under $30 not Swingline", "500元以下的打印机，不要三星", "compare the first and the third",
		"documnet scanner under fifty quid", "fine, any colour then"}
	for i := 0; b.Loop(); i++ {
		v.Parse(msgs[i%len(msgs)])
	}
}

// BenchmarkConversationsMemory holds 10,000 conversations of three turns
// each in memory and reports the heap they take.
func BenchmarkConversationsMemory(b *testing.B) {
	a := newDemoAssistant(b)
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		convs := NewConversations(time.Hour, nil, nil)
		a.o.Conversations = convs
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		b.StartTimer()
		for i := range 10000 {
			conv := benchConversations[i%4]
			id := ""
			for _, m := range conv[:min(3, len(conv))] {
				ans, err := a.Turn(ctx, Request{ConversationID: id, Message: m}, nil)
				if err != nil {
					b.Fatal(err)
				}
				id = ans.ConversationID
			}
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		if convs.Len() != 10000 {
			b.Fatalf("%d conversations held", convs.Len())
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MB/10k-conversations")
		convs.Close()
		b.StartTimer()
	}
}
