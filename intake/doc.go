// Package intake protects a webhook endpoint before the receiver sees a
// request: an IP allow-list and a rate limit, each an http.Handler
// middleware around the receiver (or any handler).
//
//	resolver, err := intake.NewResolver(intake.ResolverConfig{
//		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, // your load balancers
//	})
//	list := intake.NewList(nil) // unloaded until the first refresh
//	ref, err := intake.NewRefresher(intake.RefresherConfig{List: list, Load: func(ctx context.Context) ([]netip.Prefix, error) {
//		return intake.LoadGitHubMeta(ctx, nil, intake.GitHubMetaURL)
//	}})
//	go ref.Run(ctx)
//	limited, err := intake.RateLimit(rc, intake.RateLimitConfig{Rate: 50, Burst: 100})
//	guarded, err := intake.AllowList(limited, intake.AllowListConfig{List: list, Resolver: resolver})
//	http.Handle("POST /webhooks/github", guarded)
//
// The client address is the TCP peer unless the peer is one of the
// configured trusted proxies; only then is X-Forwarded-For (or RFC 7239
// Forwarded) read, from the right, skipping trusted hops. A sender that is
// not a trusted proxy cannot choose its address with a header.
//
// Refusals: 403 Forbidden for an address not on the list or unreadable; 503
// with Retry-After while the list has never loaded; 429 (or 503, by choice)
// with Retry-After when the rate limit's bucket is empty. The body is the
// status text and nothing more. Each refusal is reported with a reason from
// a bounded set (ReasonNotAllowed, ...) to OnRefuse, which a Counter serves.
//
// Both are defence in depth. An allow-list narrows who reaches the signature
// check; providers' lists change, and a list can be stale, so the signature
// stays the authority on what is genuine. See docs/intake.md.
package intake
