package providers

import (
	"fmt"
	"strings"

	"github.com/hookwise/hookwise/providers/sns"
	"github.com/hookwise/hookwise/verify"
)

// cloudEntries are the cloud providers' senders: Amazon SNS.
//
//   - sns: no secret; SNS signs with a certificate it names, fetched from
//     SNS hosts only. Params: "topics" (required) is a comma-separated
//     list of the topic ARNs accepted (any AWS account can send
//     SNS-signed messages, so the catalog refuses to accept every topic);
//     "auto-confirm" = "true" confirms SubscriptionConfirmation messages
//     by fetching their SubscribeURL (sns.WithAutoConfirm).
//     Config.Tolerance (default 65 minutes) and Config.Now as for every
//     timestamped provider.
var cloudEntries = []entry{
	{name: sns.Name, aliases: []string{"amazon-sns", "aws-sns"}, build: func(c Config) (P, error) {
		var topics []string
		for t := range strings.SplitSeq(c.Params["topics"], ",") {
			if t = strings.TrimSpace(t); t != "" {
				topics = append(topics, t)
			}
		}
		if len(topics) == 0 {
			return nil, fmt.Errorf("%s: %w: Params[\"topics\"] lists no topic ARN", sns.Name, verify.ErrNoSecret)
		}
		opts := []sns.Option{sns.WithTopics(topics...), sns.WithTolerance(c.Tolerance)}
		if c.Now != nil {
			opts = append(opts, sns.WithClock(c.Now))
		}
		if c.Params["auto-confirm"] == "true" {
			opts = append(opts, sns.WithAutoConfirm())
		}
		return sns.New(opts...)
	}},
}
