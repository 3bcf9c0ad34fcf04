package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aisle-dev/aisle/internal/testdata"
)

// The Office evaluation of issue 19: similar items must beat the content
// baseline and reach NDCG@10 0.55 against "also viewed" on the test half of
// the items (the other half chose the defaults); bought-together must stay
// well above raw co-occurrence against "also bought". Its 0.30 goal is not
// met (docs/benchmarks.md), so the floor here is what it measures.
func TestEvalSimilarOffice(t *testing.T) {
	t.Parallel() // in-process CPU work, no shared state: see "Parallel tests" in e2e_test.go
	if testing.Short() {
		t.Skip("builds item relations of the Office data set (about 15 s)")
	}
	dir := testdata.Path(t, "amazon-office-5core")
	rep, err := runEvalSimilar(context.Background(), similarOptions{Format: "rechorus", Path: dir, K: 10}, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	sim, simContent := rep.Similar["related (test half)"], rep.Similar["content (test half)"]
	if sim.NDCG < 0.55 || sim.NDCG <= simContent.NDCG+0.02 || sim.HR < 0.9 {
		t.Errorf("similar vs substitutes (test half): NDCG@10 %.4f HR@10 %.4f, content baseline %.4f: want NDCG ≥ 0.55, above the baseline", sim.NDCG, sim.HR, simContent.NDCG)
	}
	if sim.Anchors < 700 || sim.SameLeaf <= 0 || sim.Coverage < 0.99 {
		t.Errorf("similar: %+v", sim)
	}
	bt, btCo := rep.BoughtTogether["related (test half)"], rep.BoughtTogether["co-occurrence (test half)"]
	if bt.NDCG < 0.24 || bt.NDCG < 2*btCo.NDCG {
		t.Errorf("bought-together vs complements (test half): NDCG@10 %.4f, co-occurrence %.4f: want ≥ 0.24 and twice co-occurrence", bt.NDCG, btCo.NDCG)
	}
	// Amazon's "also bought" lists are full of the anchor's own kind (the
	// content baseline answers 83 % from the anchor's leaf); complements
	// that are not substitutes stay well below that.
	if bt.SameLeaf > 0.5 {
		t.Errorf("bought-together: %.3f of the answers in the anchor's leaf: substitutes are leaking in", bt.SameLeaf)
	}
	var out bytes.Buffer
	if err := writeSimilarTable(&out, rep, 10); err != nil || !strings.Contains(out.String(), "similar vs substitutes") {
		t.Errorf("table: %v\n%s", err, out.String())
	}
}

// The command reads a small ReChorus folder of its own (no shared data)
// and says what is wrong with a bad one.
func TestEvalSimilarCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("train.csv", "user_id\titem_id\ttime\n1\t1\t10\n1\t2\t20\n2\t1\t10\n2\t2\t30\n3\t3\t10\n3\t4\t10\n4\t3\t5\n4\t4\t6\n")
	write("item_meta.csv", "item_id\ti_category\ti_brand\tr_complement\tr_substitute\n1\t1\t1\t[2]\t[3]\n2\t2\t1\t[1]\t[]\n3\t1\t2\t[4]\t[1]\n4\t2\t2\t[3]\t[]\n")
	write("X.item2index", "P1\t1\nP2\t2\nP3\t3\nP4\t4\n")
	write("X.text", "id\ttext\nP1\tblue gel pen\nP2\tspiral notebook\nP3\tblack gel pen\nP4\tnotebook paper refill\n")
	cmd := exec.Command(aisleBin(t), "eval", "similar", "--format", "rechorus", "--path", dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("eval similar: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{"the folder's text and codes", "similar vs substitutes", "related (test half)", "content (all)", "bought-together vs complements"} {
		if !strings.Contains(stdout.String()+stderr.String(), want) {
			t.Errorf("output lacks %q:\n%s\n%s", want, stdout.String(), stderr.String())
		}
	}
	write("item_meta.csv", "item_id\tr_substitute\n1\t[2, oops\n")
	cmd = exec.Command(aisleBin(t), "eval", "similar", "--format", "rechorus", "--path", dir)
	stderr.Reset()
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil || !strings.Contains(stderr.String(), "line 2") {
		t.Errorf("bad item_meta.csv: %v\n%s", err, stderr.String())
	}
}
