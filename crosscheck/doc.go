// Package crosscheck holds differential tests of Hookwise's bundled
// providers against the providers' own Go SDKs (stripe-go, go-github,
// slack-go, svix-webhooks and the Standard Webhooks Go library).
//
// It is a nested module so that those SDKs never enter the core module's
// go.mod. It exports nothing; everything lives in its tests. Run them with
//
//	cd crosscheck && go test -race ./...
package crosscheck
