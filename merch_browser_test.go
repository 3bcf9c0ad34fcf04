package aisle

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The storefront in headless Chromium shows a pinned item first and a
// sponsored item labelled as such, and a click on the ad is billed.
func TestBrowserPinnedAndSponsored(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	path := os.Getenv("AISLE_CHROMIUM")
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if path != "" {
			break
		}
		path, _ = exec.LookPath(name)
	}
	if path == "" {
		t.Skip("no Chromium found (install the Debian package chromium, or set AISLE_CHROMIUM): skipping the browser test")
	}
	url, _ := serveAt(t, t.TempDir())
	call(t, "POST", url+"/api/items", shopItems(), 200, nil)
	var camp struct{ ID string }
	call(t, "POST", url+"/api/campaigns", `{"name":"staplers","advertiser":"Acme","items":["s2"],"bid":0.5,"daily_budget":10,"targeting":{"queries":["stapler"]},"pacing":"asap"}`, 201, &camp)
	call(t, "POST", url+"/api/rules", `{"name":"calc","if":{"query":"calculator"},"then":{"pin":[{"item_id":"c4","position":1}]}}`, 201, nil)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true), chromedp.UserDataDir(t.TempDir()))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	ctx, cancelC := context.WithTimeout(ctx, 60*time.Second)
	defer cancelC()

	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(url+"/search?q=calculator"), chromedp.WaitVisible(`ol.hits li`)); err != nil {
		t.Fatal(err)
	}
	first := eval(`document.querySelector('ol.hits li a[data-item]').dataset.item`)
	pinned := eval(`document.querySelector('ol.hits li').dataset.pinned || ""`)
	if first != "c4" || pinned != "true" {
		t.Fatalf("calculator page: first item %q (pinned %q), want c4 pinned", first, pinned)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(url+"/search?q=stapler"), chromedp.WaitVisible(`ol.hits li.sponsored .ad-label`)); err != nil {
		t.Fatal(err)
	}
	label := eval(`document.querySelector('ol.hits li.sponsored .ad-label').textContent`)
	ad := eval(`document.querySelector('ol.hits li.sponsored a[data-item]').dataset.item`)
	if label != "Sponsored" || ad != "s2" {
		t.Fatalf("stapler page: ad %q labelled %q", ad, label)
	}
	if err := chromedp.Do(ctx, chromedp.Click(`ol.hits li.sponsored a[data-item]`), chromedp.WaitVisible(`article.product`)); err != nil {
		t.Fatal(err)
	}
	// the click went out with the answer's request id and position: billed
	deadline := time.Now().Add(10 * time.Second)
	for {
		var rep struct{ Clicks int }
		call(t, "GET", url+"/api/campaigns/"+camp.ID+"/report", "", 200, &rep)
		if rep.Clicks == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ad click in the storefront was not billed: %+v", rep)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
