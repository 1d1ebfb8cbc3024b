package slack_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/hookwise/hookwise/provider"
	"github.com/hookwise/hookwise/providers/providertest"
	"github.com/hookwise/hookwise/providers/slack"
)

const formType = "application/x-www-form-urlencoded"

var (
	jsonHeader = http.Header{"Content-Type": {"application/json"}}
	formHeader = http.Header{"Content-Type": {formType}}
)

func harness(t testing.TB) providertest.Harness {
	interactive := url.Values{"payload": {`{"type":"block_actions","trigger_id":"13345224609.738474920.8088930838d88f008e0",` +
		`"user":{"id":"U0CA5"},"actions":[{"action_id":"approve","value":"ok"}]}`}}.Encode()
	return providertest.Harness{
		New: func(c providertest.Config) (provider.Provider, error) {
			return slack.New(c.Secrets[0], slack.WithSecrets(c.Secrets[1:]...),
				slack.WithClock(c.Now), slack.WithTolerance(c.Tolerance))
		},
		Sign:    slack.SignRequest,
		Secrets: []string{"8f742231b10e8888abcd99yyyzzz85a5", "e6b19c573432dcc6b075501d51b51bb8", "0123456789abcdef0123456789abcdef"},
		Samples: []providertest.Sample{
			{
				Name: "event_callback", Header: jsonHeader, ID: "Ev08MFMKH6", Type: "app_mention",
				Body: []byte(`{"token":"ZZZZZZWSxiZZZ2yIvs3peJ","team_id":"T061EG9R6","api_app_id":"A0MDYCDME",` +
					`"event":{"type":"app_mention","user":"U061F7AUR","text":"<@U0LAN0Z89> is it everything?",` +
					`"ts":"1515449522.000016","channel":"C0LAN2Q65"},"type":"event_callback","event_id":"Ev08MFMKH6","event_time":1515449522}`),
			},
			{
				Name: "slash command", Header: formHeader, ID: "13345224609.738474920.8088930838d88f008e0", Type: "command.deploy",
				Body: []byte("token=gIkuvaNzQIHg97ATvDxqgjtO&team_id=T0001&command=%2Fdeploy&text=api+v2" +
					"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1234%2F5678" +
					"&trigger_id=13345224609.738474920.8088930838d88f008e0"),
			},
			{
				Name: "interactive", Header: formHeader, ID: "13345224609.738474920.8088930838d88f008e0", Type: "interactive.block_actions",
				Body: []byte(interactive),
			},
		},
		Malformed: []providertest.Sample{
			{Name: "no type", Header: jsonHeader, Body: []byte(`{"event_id":"Ev1"}`)},
			{Name: "event_callback without event_id", Header: jsonHeader, Body: []byte(`{"type":"event_callback","event":{"type":"app_mention"}}`)},
			{Name: "unknown form", Header: formHeader, Body: []byte("a=b")},
		},
		Handshakes: []providertest.Handshake{
			{
				Name: "url_verification", Header: jsonHeader, Signed: true,
				Body: []byte(`{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`),
				Want: providertest.Response{Status: http.StatusOK, ContentType: "text/plain", Body: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"},
			},
			{
				Name: "app_rate_limited", Header: jsonHeader, Signed: true,
				Body: []byte(`{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","type":"app_rate_limited","team_id":"T123456","minute_rate_limited":1518467820,"api_app_id":"A123456"}`),
				Want: providertest.Response{Status: http.StatusOK, ContentType: "text/plain"},
			},
			{
				Name: "unsigned ssl_check", Header: formHeader, Body: []byte("ssl_check=1&token=Jhj5dZrVaK7ZwHHjRyZWjbDl"),
				Want: providertest.Response{Status: http.StatusOK, ContentType: "text/plain"},
			},
			{
				Name: "signed ssl_check", Header: formHeader, Body: []byte("ssl_check=1&token=Jhj5dZrVaK7ZwHHjRyZWjbDl"), Signed: true,
				Want: providertest.Response{Status: http.StatusOK, ContentType: "text/plain"},
			},
		},
		Tolerance: slack.DefaultTolerance,
		Vectors:   providertest.LoadVectors(t, "../testdata/vectors.json", "slack"),
	}
}

func TestConformance(t *testing.T) {
	providertest.Run(t, harness(t))
}

func FuzzConformanceSignatureHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), slack.HeaderSignature)
}

func FuzzConformanceTimestampHeader(f *testing.F) {
	providertest.FuzzVerifyHeader(f, harness(f), slack.HeaderTimestamp)
}
