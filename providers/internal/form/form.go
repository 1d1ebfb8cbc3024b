// Package form reads application/x-www-form-urlencoded deliveries for the
// providers that accept them.
package form

import (
	"mime"
	"net/http"
	"net/url"
)

// IsForm reports whether the header's Content-Type is
// application/x-www-form-urlencoded.
func IsForm(h http.Header) bool {
	ct := h.Get("Content-Type")
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// Parse decodes a form body. It fails when any pair is malformed (where
// url.ParseQuery's values would silently omit it), so a verified body is read
// whole or not at all.
func Parse(body []byte) (url.Values, error) {
	return url.ParseQuery(string(body))
}
