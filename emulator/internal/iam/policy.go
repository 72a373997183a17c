package iam

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Policy is a parsed IAM policy document (identity policy or key policy).
type Policy struct {
	Version   string     `json:"Version"`
	Id        string     `json:"Id,omitempty"`
	Statement statements `json:"Statement"`
}

// statements is a policy's Statement: a list, or a single statement object.
type statements []Statement

func (l *statements) UnmarshalJSON(b []byte) error {
	var one Statement
	if len(b) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*l = statements{one}
		return nil
	}
	var many []Statement
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*l = many
	return nil
}

// Statement is one policy statement.
type Statement struct {
	Sid         string      `json:"Sid,omitempty"`
	Effect      string      `json:"Effect"`
	Principal   *Principals `json:"Principal,omitempty"`
	Action      strList     `json:"Action,omitempty"`
	NotAction   strList     `json:"NotAction,omitempty"`
	Resource    strList     `json:"Resource,omitempty"`
	NotResource strList     `json:"NotResource,omitempty"`
	// Condition maps an operator (StringEquals, ForAnyValue:StringLike,
	// ArnLikeIfExists, ...) to condition keys and their allowed values.
	Condition map[string]map[string]strList `json:"Condition,omitempty"`
}

// Principals is a statement's Principal: "*" or {"AWS": ..., "Service": ...}.
type Principals struct {
	Any     bool // "*" or {"AWS": "*"}
	AWS     []string
	Service []string
}

func (p *Principals) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		if s != "*" {
			return fmt.Errorf("Principal %q: a string Principal must be \"*\"; use {\"AWS\": \"ARN\"}", s)
		}
		p.Any = true
		return nil
	}
	var m map[string]strList
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("Principal: %w", err)
	}
	for k, v := range m {
		switch k {
		case "AWS":
			for _, a := range v {
				if a == "*" {
					p.Any = true
				}
			}
			p.AWS = v
		case "Service":
			p.Service = v
		default:
			// Federated and CanonicalUser principals never match the
			// endpoint's callers; keep parsing.
		}
	}
	return nil
}

// strList is a JSON string or list of strings.
type strList []string

func (l *strList) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*l = []string{s}
		return nil
	}
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil {
		// Condition values may also be booleans or numbers.
		var anys []any
		if err2 := json.Unmarshal(b, &anys); err2 != nil {
			var one any
			if err3 := json.Unmarshal(b, &one); err3 != nil {
				return err
			}
			anys = []any{one}
		}
		for _, a := range anys {
			ss = append(ss, fmt.Sprint(a))
		}
	}
	*l = ss
	return nil
}

// ParsePolicy parses a policy document and checks its statements.
func ParsePolicy(b []byte) (*Policy, error) {
	var p Policy
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("policy is not valid JSON: %w", err)
	}
	for i, s := range p.Statement {
		if s.Effect != "Allow" && s.Effect != "Deny" {
			return nil, fmt.Errorf("statement %d (%s): Effect must be Allow or Deny, not %q", i, s.Sid, s.Effect)
		}
		if (len(s.Action) == 0) == (len(s.NotAction) == 0) {
			return nil, fmt.Errorf("statement %d (%s): exactly one of Action and NotAction is required", i, s.Sid)
		}
		if len(s.Resource) > 0 && len(s.NotResource) > 0 {
			return nil, fmt.Errorf("statement %d (%s): Resource and NotResource cannot both be given", i, s.Sid)
		}
		for op := range s.Condition {
			if _, _, _, err := parseOperator(op); err != nil {
				return nil, fmt.Errorf("statement %d (%s): %w", i, s.Sid, err)
			}
		}
	}
	return &p, nil
}

// request is what a policy is evaluated against.
type request struct {
	principalARN string
	account      string
	action       string
	resource     string
	conditions   map[string][]string // keys lower-cased
}

// result is one policy's verdict for a request.
type result struct {
	deny  bool
	allow bool
	// allowRoot says an Allow matched only through the account principal
	// (arn:aws:iam::ACCOUNT:root or the bare account id): in a key policy
	// that delegates the decision to IAM identity policies.
	allowRoot bool
}

// evaluate returns the policy's verdict. Principal blocks are checked only
// for resource policies (withPrincipal).
func (p *Policy) evaluate(req request, withPrincipal bool) result {
	var res result
	for i := range p.Statement {
		s := &p.Statement[i]
		if !s.matchesAction(req.action) || !s.matchesResource(req.resource) || !s.matchesConditions(req.conditions) {
			continue
		}
		direct, viaRoot := true, false
		if withPrincipal {
			direct, viaRoot = s.matchesPrincipal(req.principalARN, req.account)
			if !direct && !viaRoot {
				continue
			}
		}
		if s.Effect == "Deny" {
			res.deny = true
			continue
		}
		if direct {
			res.allow = true
		} else {
			res.allowRoot = true
		}
	}
	return res
}

func (s *Statement) matchesAction(action string) bool {
	if len(s.NotAction) > 0 {
		return !anyMatch(s.NotAction, action, true)
	}
	return anyMatch(s.Action, action, true)
}

func (s *Statement) matchesResource(resource string) bool {
	if len(s.NotResource) > 0 {
		return !anyMatch(s.NotResource, resource, false)
	}
	if len(s.Resource) == 0 {
		return true // key policies often leave Resource as "*"; absent means the same here
	}
	return anyMatch(s.Resource, resource, false)
}

// matchesPrincipal reports whether the statement names the caller directly
// (its ARN, or "*"), or only through its account (root ARN or account id).
func (s *Statement) matchesPrincipal(principalARN, account string) (direct, viaRoot bool) {
	if s.Principal == nil {
		return false, false
	}
	if s.Principal.Any {
		return true, false
	}
	root := "arn:aws:iam::" + account + ":root"
	for _, a := range s.Principal.AWS {
		switch {
		case a == principalARN:
			direct = true
		case a == root || a == account:
			if principalARN == root {
				direct = true
			} else {
				viaRoot = true
			}
		}
	}
	return direct, viaRoot
}

func anyMatch(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if fold {
			if wildcardMatch(strings.ToLower(p), strings.ToLower(s)) {
				return true
			}
		} else if wildcardMatch(p, s) {
			return true
		}
	}
	return false
}

// wildcardMatch matches s against a pattern where * is any run of
// characters and ? exactly one, as IAM's Action, Resource and *Like
// operators do.
func wildcardMatch(pattern, s string) bool {
	px, sx := 0, 0
	starP, starS := -1, 0
	for sx < len(s) {
		switch {
		case px < len(pattern) && (pattern[px] == '?' || pattern[px] == s[sx]):
			px++
			sx++
		case px < len(pattern) && pattern[px] == '*':
			starP, starS = px, sx
			px++
		case starP >= 0:
			px = starP + 1
			starS++
			sx = starS
		default:
			return false
		}
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}
