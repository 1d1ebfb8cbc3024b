package github_test

import (
	"fmt"
	"io"

	"github.com/hookwise/hookwise/providers/github"
)

func Example() {
	const secret = "It's a Secret to Everybody"
	body := []byte(`{"action":"opened","issue":{"number":1}}`)

	// A signed delivery as GitHub sends it.
	r := github.NewRequest("https://example.com/webhooks/github", secret, "issues", "72d3162e-cc78-11e3-81ab-4c9367dc0958", body)

	p, err := github.New(secret)
	if err != nil {
		panic(err)
	}
	raw, _ := io.ReadAll(r.Body)
	fmt.Println("verify:", p.Verify(r, raw))
	env, err := p.Parse(r, raw)
	// The ID is the hash of the signed body, not the unsigned delivery header.
	fmt.Println("id:", env.ID, "type:", env.Type, "err:", err)
	fmt.Println("delivery:", r.Header.Get(github.HeaderDelivery))

	fmt.Println(github.Sign(secret, []byte("Hello, World!")))
	// Output:
	// verify: <nil>
	// id: sha256:709d47faf68bee95e9f166eae504422e722b88c9c930a1b7ee4062587b7a2150 type: issues.opened err: <nil>
	// delivery: 72d3162e-cc78-11e3-81ab-4c9367dc0958
	// sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17
}
