package crosscheck

import (
	"crypto/ed25519"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	hwdiscord "github.com/hookwise/hookwise/providers/discord"
	hwtwilio "github.com/hookwise/hookwise/providers/twilio"
	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"
	"github.com/stretchr/testify/require"
)

// errSDKRejects stands for a boolean SDK verdict of false in agree.
var errSDKRejects = errors.New("SDK rejects")

func sdkErr(ok bool) error {
	if ok {
		return nil
	}
	return errSDKRejects
}

// onlySpaceAround reports whether header is want with white space added
// around it (which Hookwise trims and the SDKs do not).
func onlySpaceAround(header, want string) bool {
	return header != want && strings.TrimSpace(header) == want
}

// FuzzDiscordAgreement signs a fuzzed body under a fuzzed timestamp text
// with a fuzzed key, places the hex signature into a fuzzed header template
// ("{sig}", "{SIG}" upper-case), and requires Hookwise (default options)
// and discordgo.VerifyInteraction to agree, except that Hookwise trims
// white space around the signature.
func FuzzDiscordAgreement(f *testing.F) {
	f.Add([]byte(`{"type":1}`), "1735689600", "{sig}", []byte("seed"))
	f.Add([]byte{}, "", "{sig}", []byte{})
	f.Add([]byte("🚀"), "01735689600", " {sig}\t", []byte{1})
	f.Add([]byte{0xff, 0x00}, "-1", "{SIG}", []byte{2})
	f.Add([]byte("x"), "abc", "{sig}00", []byte{3})
	f.Add([]byte("x"), " 1 ", "{sig},{sig}", []byte{4})
	f.Fuzz(func(t *testing.T, body []byte, ts, template string, seedBytes []byte) {
		if len(template) > maxTemplate || len(ts) > maxTemplate {
			return
		}
		seed := make([]byte, ed25519.SeedSize)
		copy(seed, seedBytes)
		priv := ed25519.NewKeyFromSeed(seed)
		pub := priv.Public().(ed25519.PublicKey)
		sig := discordGoSign(priv, ts, body)
		header := strings.NewReplacer("{sig}", sig, "{SIG}", strings.ToUpper(sig)).Replace(template)

		p, err := hwdiscord.New(hex.EncodeToString(pub))
		require.NoError(t, err)
		req := discordRequest(body, "", "")
		req.Header.Set(hwdiscord.HeaderTimestamp, ts)
		req.Header.Set(hwdiscord.HeaderSignature, header)
		hErr := p.Verify(req, body)
		sErr := sdkErr(discordGoVerify(t, req, pub))
		var known leniency
		if onlySpaceAround(header, sig) || onlySpaceAround(strings.ToLower(header), sig) {
			known |= hookwiseLenient
		}
		agree(t, hErr, sErr, known, header, ts, body)
	})
}

// FuzzTwilioAgreement signs a fuzzed form body (and the fixed URL) with a
// fuzzed Auth Token as twilio-go's validator computes it, places the
// signature into a fuzzed header template, and requires Hookwise and
// twilio-go's ValidateBody to agree, except for the documented differences:
// Hookwise trims white space around the signature, and signs every value
// of a repeated name where twilio-go signs the first.
func FuzzTwilioAgreement(f *testing.F) {
	f.Add([]byte("From=%2B14158675309&Body=hi"), "12345", "{sig}")
	f.Add([]byte(""), "t", "{sig}")
	f.Add([]byte("a=1&a=2"), "t", "{sig}")
	f.Add([]byte("a=%zz"), "t", "{sig}")
	f.Add([]byte("a;b=1"), "t", " {sig} ")
	f.Add([]byte("a&b=&=c&+=%20"), "t", "{sig}=")
	f.Fuzz(func(t *testing.T, body []byte, tokenSeed, template string) {
		if len(template) > maxTemplate {
			return
		}
		const u = "https://hookwise.test/twilio/sms?foo=1&bar=2"
		token := fuzzSecret(tokenSeed)
		vals := mustParseQueryNoT(body)
		sig := twilioRefSign(token, u, firstValues(vals))
		header := strings.ReplaceAll(template, "{sig}", sig)

		p, err := hwtwilio.New(token)
		require.NoError(t, err)
		hErr := p.Verify(twilioRequest(t, u, body, formContentType, header), body)
		sErr := sdkErr(twilioGoValidate(token, u, body, header))
		var known leniency
		if onlySpaceAround(header, sig) {
			known |= hookwiseLenient
		}
		for _, v := range vals {
			if len(v) > 1 {
				known |= sdkLenient
			}
		}
		agree(t, hErr, sErr, known, header, body, token)
	})
}

// FuzzSendgridAgreement signs a fuzzed body under a fuzzed timestamp text,
// places the base64 DER signature into a fuzzed header template, and
// requires Hookwise (default options) and sendgrid-go's VerifySignature to
// agree, except that Hookwise trims white space around the signature and
// refuses bytes after the DER signature, which sendgrid-go ignores.
func FuzzSendgridAgreement(f *testing.F) {
	k := newSendgridKey(f)
	f.Add([]byte(`[{"event":"open"}]`), "1600112502", "{sig}")
	f.Add([]byte{}, "", "{sig}")
	f.Add([]byte("🚀"), "x", " {sig}\n")
	f.Add([]byte{0xff}, "1", "{sig}AA==")
	f.Add([]byte("a"), "1", "{sig}{sig}")
	f.Fuzz(func(t *testing.T, body []byte, ts, template string) {
		if len(template) > maxTemplate || len(ts) > maxTemplate {
			return
		}
		sig := sendgridSign(t, k.priv, ts, body)
		header := strings.ReplaceAll(template, "{sig}", sig)
		hErr := newSendgrid(t, k.pubB64).Verify(sendgridRequest(body, ts, header), body)
		// An absent header (Header.Set is skipped for "") counts as a
		// rejection on the SDK side; TestSendgridDifferential pins that
		// sendgrid-go itself would verify "" + body.
		sErr := sdkErr(ts != "" && header != "" && sendgridGoVerify(t, k.pubB64, body, header, ts))
		var known leniency
		if onlySpaceAround(header, sig) {
			known |= hookwiseLenient
		}
		if der, err := base64.StdEncoding.DecodeString(header); err == nil {
			var rs eventwebhook.RS
			if rest, err := asn1.Unmarshal(der, &rs); err == nil && len(rest) > 0 {
				known |= sdkLenient
			}
		}
		agree(t, hErr, sErr, known, header, ts, body)
	})
}
