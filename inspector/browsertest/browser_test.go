// Package browsertest drives the inspector's page in a real headless
// Chromium (Debian's /usr/bin/chromium), in a module of its own so that the
// core tests need no browser.
package browsertest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookwise/hookwise/inspector"
	"github.com/hookwise/hookwise/providers/stripe"
	"github.com/hookwise/hookwise/receiver"
)

const (
	token  = "browser-test-token-0123456789"
	secret = "whsec_browser_test_secret"
	// The attack a delivery carries: were it ever put on the page as HTML,
	// the image's handler would set window.__xss.
	attack = `</script><img id=pwned src=x onerror=window.__xss=1><b>bold</b>`
)

// chromium is Debian's browser; CHROMIUM overrides it.
func chromium() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// browser starts a headless Chromium with a fresh profile. Under CI=true a
// browser that cannot start fails the test; elsewhere it skips it.
func browser(t *testing.T, parent context.Context) context.Context {
	t.Helper()
	path := chromium()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(parent, opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		_, statErr := exec.LookPath(path)
		msg := "chromium could not start (" + path + "): " + err.Error()
		if statErr != nil {
			msg += "; install it with apt-get install chromium (scripts/test.sh does)"
		}
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return ctx
}

// saveScreenshot writes png to dir (t.TempDir()) and, when
// HOOKWISE_SCREENSHOT_DIR is set, there too.
func saveScreenshot(t *testing.T, png []byte) {
	t.Helper()
	require.True(t, len(png) > 8 && string(png[1:4]) == "PNG", "a PNG screenshot")
	dirs := []string{t.TempDir()}
	if d := os.Getenv("HOOKWISE_SCREENSHOT_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		require.NoError(t, os.MkdirAll(d, 0o755))
		p := filepath.Join(d, "inspector.png")
		require.NoError(t, os.WriteFile(p, png, 0o644))
		t.Logf("screenshot: %s (%d bytes)", p, len(png))
	}
}

func TestInspectorPageInChromium(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bctx := browser(t, ctx)

	// A real Stripe receiver and the inspector, served together as in the
	// quickstart.
	dl := receiver.NewMemoryDeadLetters(0)
	p, err := stripe.New(secret)
	require.NoError(t, err)
	var rc *receiver.Receiver
	ins, err := inspector.New(inspector.Options{
		Token:        token,
		PollInterval: 250 * time.Millisecond,
		DeadLetters: []inspector.DeadLetterSource{{Name: "stripe", Store: dl,
			Replay: func(ctx context.Context, d receiver.DeadLetter) error { return rc.Replay(ctx, d) }}},
	})
	require.NoError(t, err)
	var refuse atomic.Bool
	refuse.Store(true)
	handled := make(chan string, 16)
	h := receiver.HandlerFunc(func(_ context.Context, e *receiver.Event) error {
		if e.ID == "evt_dead" && refuse.Load() {
			return receiver.Permanent(errors.New("the ledger refused the invoice"))
		}
		handled <- e.ID
		return nil
	})
	rc, err = receiver.New(p, h, receiver.WithDeadLetters(dl), receiver.WithObserver(ins.Observer()))
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/stripe", rc)
	mux.Handle("/_hookwise/", ins)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = rc.Shutdown(sctx)
	}()

	send := func(id, extra string) {
		t.Helper()
		body := `{"id":"` + id + `","object":"event","type":"invoice.paid","data":{"object":{"id":"in_1","amount_due":4200,"customer_email":"ada@example.com","client_secret":"pi_secret_NEVER_SHOWN"` + extra + `}}}`
		req := stripe.NewRequest(srv.URL+"/webhooks/stripe", secret, time.Now(), []byte(body))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}

	// Open the page and give it the token.
	require.NoError(t, chromedp.Do(bctx,
		chromedp.Navigate(srv.URL+"/_hookwise/"),
		chromedp.WaitVisible(chromedp.CSS(`#login`)),
		chromedp.SendKeys(chromedp.CSS(`#token`), token),
		chromedp.Click(chromedp.CSS(`#login-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#app`)),
		chromedp.WaitVisible(chromedp.CSS(`#empty`)),
		until(`document.getElementById('status').textContent.startsWith('live')`),
	))
	url, err := chromedp.Run(bctx, chromedp.Location())
	require.NoError(t, err)
	assert.NotContains(t, url, token, "the token never goes in a URL")

	// Deliveries sent after the page opened appear in it, live.
	send("evt_live", `,"memo":"`+attack+`"`)
	assert.Equal(t, "evt_live", <-handled)
	row := `#deliveries tr.delivery[data-event-id="evt_live"][data-stage="handled"]`
	require.NoError(t, chromedp.Do(bctx, chromedp.WaitVisible(chromedp.CSS(row))))

	// Its detail: headers with the signature redacted, the payload as text.
	require.NoError(t, chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(row)),
		chromedp.WaitVisible(chromedp.CSS(`#detail`)),
		until(`document.getElementById('detail-payload').textContent.includes('evt_live')`),
	))
	payload, err := chromedp.Run(bctx, chromedp.TextContent(chromedp.CSS(`#detail-payload`)))
	require.NoError(t, err)
	sigCell, err := chromedp.Run(bctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll('#detail-headers tr')).filter(r => r.cells[0].textContent === 'Stripe-Signature').map(r => r.cells[1].textContent).join()`))
	require.NoError(t, err)
	assert.Equal(t, inspector.Redacted, sigCell)
	assert.Contains(t, payload, attack, "the attack is shown as text")
	assert.NotContains(t, payload, "pi_secret_NEVER_SHOWN")
	xss, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`window.__xss === 1`))
	require.NoError(t, err)
	assert.False(t, xss, "the payload's script ran")
	injected, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('#pwned, #detail b, #deliveries b').length`))
	require.NoError(t, err)
	assert.Zero(t, injected, "the payload's markup became elements")

	// A delivery whose handler refuses it is dead-lettered and listed with
	// a replay button.
	send("evt_dead", "")
	replay := `#deadletters button.replay[data-event-id="evt_dead"]`
	require.NoError(t, chromedp.Do(bctx,
		chromedp.WaitVisible(chromedp.CSS(`#deliveries tr.delivery[data-event-id="evt_dead"][data-stage="dead_lettered"]`)),
		chromedp.Click(chromedp.CSS(`#dl-refresh`)),
		chromedp.WaitVisible(chromedp.CSS(replay)),
	))
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	saveScreenshot(t, shot)

	// Clicking replay runs the handler again.
	refuse.Store(false)
	require.NoError(t, chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(replay)),
		until(`document.getElementById('dl-message').textContent.startsWith('Replayed')`),
	))
	select {
	case id := <-handled:
		assert.Equal(t, "evt_dead", id)
	case <-time.After(5 * time.Second):
		t.Fatal("the replayed event never reached the handler")
	}
	msg, err := chromedp.Run(bctx, chromedp.TextContent(chromedp.CSS(`#dl-message`)))
	require.NoError(t, err)
	assert.Contains(t, msg, "evt_dead")
	require.NoError(t, chromedp.Do(bctx,
		chromedp.WaitNotPresent(chromedp.CSS(replay)),
		chromedp.WaitVisible(chromedp.CSS(`#deliveries tr.delivery[data-event-id="evt_dead"][data-stage="handled"]`)),
	))

	// A wrong token brings the login form back, with no delivery shown.
	require.NoError(t, chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`#forget`)),
		chromedp.WaitVisible(chromedp.CSS(`#login`)),
		chromedp.SendKeys(chromedp.CSS(`#token`), "not-the-token-at-all"),
		chromedp.Click(chromedp.CSS(`#login-submit`)),
		until(`document.getElementById('login-error').textContent.includes('not accepted')`),
	))
	hidden, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.getElementById('app').hidden && document.querySelectorAll('#deliveries tr.delivery').length === 0`))
	require.NoError(t, err)
	assert.True(t, hidden)
}

// until waits, up to 5 s, for a JavaScript expression to be true.
func until(expr string) chromedp.Action[chromedp.Void] {
	poll := chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(5*time.Second))
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := poll(ctx, t)
		return chromedp.Void{}, err
	}
}
