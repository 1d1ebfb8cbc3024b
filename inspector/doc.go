// Package inspector is an embeddable web page for the operators of a
// Hookwise receiver: the latest deliveries as they happen (accepted,
// duplicate, rejected with the reason, handled, retried, dead-lettered), each
// delivery's headers and payload with signatures and secrets redacted, and
// the dead letters, with a button that replays one.
//
//	ins, err := inspector.New(inspector.Options{Token: os.Getenv("INSPECTOR_TOKEN")})
//	...
//	rc, err := receiver.New(p, mux, receiver.WithObserver(ins.Observer()))
//	...
//	err = ins.AddDeadLetters(inspector.DeadLetterSource{Name: "stripe", Store: rc.DeadLetters(), Replay: rc.Replay})
//	...
//	http.Handle("/_hookwise/", ins)
//
// An Inspector is an http.Handler serving a page, its script and a small
// JSON API, all embedded (no external script, font or stylesheet). It holds
// no secret of the receivers and needs no storage: it keeps the latest
// deliveries in memory, bounded by count (Options.Capacity), by the payload
// text kept per delivery (Options.MaxEntryBytes) and by the total
// (Options.MaxTotalBytes), and reads dead letters from the stores it is
// given when the page asks.
//
// # Security
//
// It is meant for loopback or an internal network, behind the same access
// controls as any operator tool. Every API call requires the token, in the
// X-Hookwise-Token header (or Authorization: Bearer), compared in constant
// time; the page asks for it and keeps it in the tab's sessionStorage, never
// in a URL or a cookie. Without cookies, a page on another site cannot make
// a browser act with the operator's rights: a replay is a POST with the
// token header and a JSON body, which a browser sends cross-site only after
// a preflight the Inspector never grants. Payloads are attacker-controlled
// even when signed, so the page puts them on screen only as text, under a
// Content-Security-Policy that allows no inline script.
//
// Redaction: header values are replaced by Redacted when the name is in
// SignatureHeaders (every catalog provider's signature, token and credential
// headers), in Options.RedactHeaders, or contains signature, token, auth,
// secret, key, hmac, password, cookie, credential, session or verification,
// or a part "sig". In JSON and form payloads, a field whose name contains
// secret, password, token, signature, clientState, apiKey, privateKey,
// authorization, credential or cookie (without case, "-", "_" or ".") has
// its whole value replaced, as do the fields of Options.RedactFields.
// Query parameters follow the header rule. A payload neither JSON nor a form
// is not shown.
package inspector
