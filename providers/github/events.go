package github

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hookwise/hookwise/provider"
)

// The event check. X-GitHub-Event is not signed, so a captured payload can
// be sent again under another event name: an issues.deleted payload handled
// as repository.deleted. The check reads the payload's top-level key names
// (never their values) in the same pass that reads its action, and refuses a
// payload that does not fit the event it is labelled with:
//
//   - it lacks a key every payload of the event carries ("issue" for issues,
//     "ref", "before", "after" and "commits" for push), or
//   - it carries a subject key, a key that names what another kind of event
//     is about ("issue", "pull_request", "comment", "release", …), that no
//     payload of the labelled event carries.
//
// The keys come from GitHub's published payload schemas (octokit/webhooks
// payload-schemas, api.github.com; every example payload there passes under
// its own event). Its limits: events missing from the table are not
// checked; payloads with the same keys cannot be told apart (repository,
// public, watch and branch_protection_configuration payloads all hold only
// repository and sender; dependabot and secret scanning alerts are told
// apart by one key of their alert); and the action is not checked against
// the event's actions, since GitHub adds actions over time.

// subjects are the top-level keys that name what an event is about. A
// checked event's payload carries none of them but those its spec requires
// or allows.
var subjects = strings.Fields(`issue pull_request comment review thread discussion release
	workflow_run workflow_job workflow check_run check_suite forkee starred_at zen hook_id
	commits head_commit pusher ref_type master_branch member membership team label milestone
	deployment deployment_status pages build merge_group alert commit_oid location package
	registry_package rule key sha project project_card project_column projects_v2_item
	sponsorship security_advisory marketplace_purchase repositories_added client_payload
	blocked_user definition`)

// eventSpec is what every payload of an event carries (required; a dotted
// key is one level down: "installation.app_id"), the further subject keys
// some of its payloads carry (allowed), and keys outside the subjects that
// none carries (forbidden): "action" for events without actions,
// "repository" for events about an organization. Each field is a
// space-separated list.
type eventSpec struct{ required, allowed, forbidden string }

// eventSpecs lists the checked events.
var eventSpecs = map[string]eventSpec{
	"branch_protection_configuration": {"repository", "", ""},
	"branch_protection_rule":          {"rule", "", ""},
	"check_run":                       {"check_run", "", ""},
	"check_suite":                     {"check_suite", "", ""},
	"code_scanning_alert":             {"alert commit_oid ref", "", ""},
	"commit_comment":                  {"comment", "", ""},
	"create":                          {"ref ref_type master_branch", "", "action"},
	"custom_property":                 {"definition", "", "repository"},
	"custom_property_values":          {"new_property_values old_property_values", "", ""},
	"delete":                          {"ref ref_type", "", "action"},
	"dependabot_alert":                {"alert alert.dependency", "", ""},
	"deploy_key":                      {"key", "", ""},
	"deployment":                      {"deployment", "workflow workflow_run", ""},
	"deployment_protection_rule":      {"repository", "deployment", ""},
	"deployment_review":               {"workflow_run", "comment", ""},
	"deployment_status":               {"deployment deployment_status", "check_run workflow workflow_run", ""},
	"discussion":                      {"discussion", "label", ""},
	"discussion_comment":              {"discussion comment", "", ""},
	"fork":                            {"forkee", "", "action"},
	"gollum":                          {"pages", "", "action"},
	"installation":                    {"installation installation.app_id installation.account", "", ""},
	"installation_repositories":       {"installation.app_id repositories_added repositories_removed", "", ""},
	"issue_comment":                   {"issue comment", "", ""},
	"issues":                          {"issue", "label milestone", ""},
	"label":                           {"label", "", ""},
	"marketplace_purchase":            {"marketplace_purchase", "", "repository"},
	"member":                          {"member", "", ""},
	"membership":                      {"member team scope organization", "", "repository"},
	"merge_group":                     {"merge_group", "", ""},
	"meta":                            {"hook hook_id", "", ""},
	"milestone":                       {"milestone", "", ""},
	"org_block":                       {"blocked_user organization", "", "repository"},
	"organization":                    {"organization", "membership", "repository"},
	"package":                         {"package", "", ""},
	"page_build":                      {"build", "", "action"},
	"ping":                            {"zen hook_id", "", "action"},
	"project":                         {"project", "", ""},
	"project_card":                    {"project_card", "", ""},
	"project_column":                  {"project_column", "", ""},
	"projects_v2_item":                {"projects_v2_item", "", ""},
	"public":                          {"repository", "", "action"},
	"pull_request":                    {"pull_request number", "label milestone", ""},
	"pull_request_review":             {"pull_request review", "", ""},
	"pull_request_review_comment":     {"pull_request comment", "", ""},
	"pull_request_review_thread":      {"pull_request thread", "", ""},
	"push":                            {"ref before after commits", "head_commit pusher", "action"},
	"registry_package":                {"registry_package", "", ""},
	"release":                         {"release", "", ""},
	"repository":                      {"repository", "", ""},
	"repository_dispatch":             {"client_payload branch", "", ""},
	"repository_vulnerability_alert":  {"alert alert.affected_package_name", "", ""},
	"secret_scanning_alert":           {"alert alert.secret_type", "", ""},
	"secret_scanning_alert_location":  {"alert location", "", ""},
	"security_advisory":               {"security_advisory", "", "repository"},
	"sponsorship":                     {"sponsorship", "", "repository"},
	"star":                            {"starred_at repository", "", ""},
	"status":                          {"sha state commit", "", "action"},
	"team":                            {"team", "", ""},
	"team_add":                        {"team", "", "action"},
	"watch":                           {"repository", "", ""},
	"workflow_dispatch":               {"workflow ref inputs", "", "action"},
	"workflow_job":                    {"workflow_job", "deployment", ""},
	"workflow_run":                    {"workflow_run workflow", "", ""},
}

// eventRule is the compiled check of one event: paths[0] is the action;
// paths[1:1+required] must be present, the rest absent.
type eventRule struct {
	paths    [][]string
	required int
}

// maxRulePaths bounds the paths of a rule (jsonscan looks up at most 64).
const maxRulePaths = 64

// actionPaths is what Parse reads without the check.
var actionPaths = [][]string{{"action"}}

var eventRules = compileRules()

func compileRules() map[string]*eventRule {
	rules := make(map[string]*eventRule, len(eventSpecs))
	for event, spec := range eventSpecs {
		required := strings.Fields(spec.required)
		ok := make(map[string]bool)
		r := &eventRule{paths: [][]string{{"action"}}, required: len(required)}
		for _, k := range required {
			r.paths = append(r.paths, strings.Split(k, "."))
			ok[k] = true
		}
		for _, k := range strings.Fields(spec.allowed) {
			ok[k] = true
		}
		for _, k := range subjects {
			if !ok[k] {
				r.paths = append(r.paths, []string{k})
			}
		}
		for _, k := range strings.Fields(spec.forbidden) {
			r.paths = append(r.paths, []string{k})
		}
		if len(r.paths) > maxRulePaths {
			panic("github: event rule " + event + " has too many keys")
		}
		rules[event] = r
	}
	return rules
}

// check reports whether the looked-up values (vals[i] for r.paths[i]; nil
// when absent) fit the event. The error names the event and the key, both
// from the table, never a payload value.
func (r *eventRule) check(event string, vals [][]byte) error {
	for i := 1; i < len(r.paths); i++ {
		present := vals[i] != nil
		if i <= r.required && !present {
			return fmt.Errorf("github: payload does not fit %s %q: it lacks %q: %w",
				HeaderEvent, event, strings.Join(r.paths[i], "."), provider.ErrMalformedEnvelope)
		}
		if i > r.required && present {
			return fmt.Errorf("github: payload does not fit %s %q: it has %q: %w",
				HeaderEvent, event, r.paths[i][0], provider.ErrMalformedEnvelope)
		}
	}
	return nil
}

// CheckedEvents returns the names of the events whose payloads Parse checks
// against X-GitHub-Event (see WithEventCheck), sorted.
func CheckedEvents() []string {
	names := make([]string, 0, len(eventSpecs))
	for name := range eventSpecs {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
