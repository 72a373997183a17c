package iam

import (
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/ssmstate/ssmstate/emulator/internal/awsapi"
)

// Authorizer evaluates requests the way AWS does for a principal in the same
// account as the resource: an explicit Deny in any policy wins; SSM actions
// need an identity policy that allows them; KMS actions need the key policy
// to allow them, either naming the caller (or "*") directly, or through the
// account-root statement that delegates to identity policies.
type Authorizer struct {
	account    string
	principals map[string]*principal // by ARN

	mu        sync.Mutex
	keyPolicy map[string]*Policy // parsed key policies, by their text
}

type principal struct {
	cfg      Principal
	policies []*Policy
}

// NewAuthorizer builds the authorizer for a validated Config.
func NewAuthorizer(c *Config) (*Authorizer, error) {
	a := &Authorizer{account: c.Account, principals: map[string]*principal{}, keyPolicy: map[string]*Policy{}}
	for _, p := range c.Principals {
		pr := &principal{cfg: p}
		for i, raw := range p.Policies {
			pol, err := ParsePolicy(raw)
			if err != nil {
				return nil, fmt.Errorf("principal %s: policy %d: %w", p.ARN, i, err)
			}
			pr.policies = append(pr.policies, pol)
		}
		a.principals[p.ARN] = pr
	}
	return a, nil
}

// Authorize implements awsapi.Authorizer.
func (a *Authorizer) Authorize(r *awsapi.Request, c awsapi.Check) error {
	caller := r.Principal.ARN
	req := request{
		principalARN: caller,
		account:      a.account,
		action:       c.Action,
		resource:     c.Resource,
		conditions:   map[string][]string{},
	}
	for k, v := range c.Conditions {
		req.conditions[strings.ToLower(k)] = v
	}
	setDefault := func(k, v string) {
		if _, ok := req.conditions[k]; !ok && v != "" {
			req.conditions[k] = []string{v}
		}
	}
	setDefault("aws:principalarn", caller)
	setDefault("aws:principalaccount", r.Principal.Account)
	setDefault("aws:username", UserName(caller))
	// The endpoint serves plain HTTP, so a request is never over TLS.
	setDefault("aws:securetransport", "false")
	if c.IsKMS {
		setDefault("kms:calleraccount", r.Principal.Account)
		setDefault("kms:viaservice", r.ViaService)
	}

	identity := a.evaluateIdentity(caller, req)
	if identity.deny {
		return denied(caller, c, "with an explicit deny in an identity-based policy")
	}
	if !c.IsKMS {
		if identity.allow {
			return nil
		}
		return denied(caller, c, "because no identity-based policy allows the "+c.Action+" action")
	}

	kp, err := a.parseKeyPolicy(c.ResourcePolicy)
	if err != nil {
		return &awsapi.Error{Status: http.StatusInternalServerError, Code: "KMSInternalException",
			Message: "the key policy of " + c.Resource + " cannot be evaluated: " + err.Error()}
	}
	key := kp.evaluate(req, true)
	switch {
	case key.deny:
		return denied(caller, c, "with an explicit deny in a resource-based policy")
	case key.allow:
		return nil
	case key.allowRoot && identity.allow:
		return nil
	case key.allowRoot:
		return denied(caller, c, "because no identity-based policy allows the "+c.Action+" action")
	default:
		return denied(caller, c, "because no resource-based policy allows the "+c.Action+" action")
	}
}

// evaluateIdentity evaluates the caller's identity policies. The account's
// root user is allowed everything its policies do not deny, as on AWS.
func (a *Authorizer) evaluateIdentity(caller string, req request) result {
	var res result
	if caller == "arn:aws:iam::"+a.account+":root" {
		res.allow = true
	}
	p := a.principals[caller]
	if p == nil {
		return res
	}
	for _, pol := range p.policies {
		r := pol.evaluate(req, false)
		res.deny = res.deny || r.deny
		res.allow = res.allow || r.allow
	}
	return res
}

// defaultKeyPolicy is the policy KMS gives a key created without one: the
// account-root statement that lets IAM policies grant use of the key
// (KMS Developer Guide, "Default key policy").
func defaultKeyPolicy(account string) string {
	return `{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"kms:*","Resource":"*"}]}`
}

func (a *Authorizer) parseKeyPolicy(text string) (*Policy, error) {
	if strings.TrimSpace(text) == "" {
		text = defaultKeyPolicy(a.account)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if p, ok := a.keyPolicy[text]; ok {
		return p, nil
	}
	p, err := ParsePolicy([]byte(text))
	if err != nil {
		return nil, err
	}
	if len(a.keyPolicy) > 1024 {
		clear(a.keyPolicy) // bound the cache; policies change rarely
	}
	a.keyPolicy[text] = p
	return p, nil
}

// denied builds AWS's access-denied error. The forms are AWS's current ones
// (IAM User Guide, "Troubleshooting access denied error messages": "with an
// explicit deny in a <type> policy" / "because no <type> policy allows the
// <action> action"), as seen verbatim from KMS in
// hashicorp/terraform-provider-aws#42849 ("... is not authorized to perform:
// kms:Decrypt on resource: arn:aws:kms:...:key/... because no resource-based
// policy allows the kms:Decrypt action") and from SSM in
// aws-samples/aws-workshop-for-kubernetes#250. Both services answer with
// HTTP 400 and __type AccessDeniedException.
func denied(caller string, c awsapi.Check, why string) *awsapi.Error {
	return &awsapi.Error{
		Status:  http.StatusBadRequest,
		Code:    "AccessDeniedException",
		Message: fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s %s", caller, c.Action, c.Resource, why),
	}
}
